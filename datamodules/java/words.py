"""Words for the Java instruction task, English and Spanish, split into training and held-out sets.

The reference experiment diversified its instructions by mixing English and Spanish words and failed on words
it
had never seen; validation and test here use only held-out words, so accuracy measures exactly that.
"""

from __future__ import annotations

import re
from pathlib import Path

WORD_LISTS = Path(__file__).parent / "word_lists"  # bundled lists: english.txt, spanish.txt

# Nouns that become identifiers and message text; ASCII only so every one is a valid Java identifier.
ENGLISH = """
apple river stone cloud table window garden bridge candle forest engine planet rocket silver
ocean yellow summer winter spring autumn pencil guitar mirror island castle dragon tiger falcon
hammer ladder basket button carpet dinner farmer hunter jacket kettle lemon marble needle orange
pepper rabbit saddle tunnel violin wallet anchor badger cactus donkey eagle feather ginger harbor
insect jungle koala lizard meadow nectar oyster parrot quartz raven salmon turtle umbrella valley
walrus zebra amber breeze copper desert ember frost glacier honey iron jade kernel lantern magnet
nickel orbit pebble quiver ribbon shadow thunder velvet willow cobalt dune echo fable grove
harvest ivory jasmine lagoon maple nugget onion prism quill relic spiral timber urchin vortex
""".split()

SPANISH = """
manzana piedra nube mesa ventana jardin puente vela bosque motor planeta cohete plata oceano
amarillo verano invierno lapiz guitarra espejo isla castillo dragon tigre halcon martillo escalera
cesta boton alfombra cena granjero cazador chaqueta tetera limon marmol aguja naranja pimienta
conejo tunel violin cartera ancla cactus burro aguila pluma jengibre puerto insecto selva lagarto
prado ostra loro cuervo salmon tortuga paraguas valle cebra ambar brisa cobre desierto hielo miel
hierro linterna iman niquel orbita guijarro cinta sombra trueno terciopelo sauce duna eco fabula
cosecha marfil laguna arce cebolla prisma reliquia espiral madera remolino campana cometa
""".split()


def held_out(words: list[str], every: int = 5) -> tuple[list[str], list[str]]:
    """Every `every`-th word is held out, so both splits span the alphabet and both languages."""
    train = [w for i, w in enumerate(words) if i % every != every - 1]
    test = [w for i, w in enumerate(words) if i % every == every - 1]
    return train, test


TRAIN_WORDS_EN, HELD_OUT_WORDS_EN = held_out(sorted(set(ENGLISH)))
TRAIN_WORDS_ES, HELD_OUT_WORDS_ES = held_out(sorted(set(SPANISH) - set(ENGLISH)))

JAVA_KEYWORDS = set(
    """
abstract assert boolean break byte case catch char class const continue default do double else enum
extends final finally float for goto if implements import instanceof int interface long native new
package private protected public return short static strictfp super switch synchronized this throw
throws transient try void volatile while true false null var record yield sealed permits
""".split()
)

TEMPLATE_NAMES = {"i", "result"}  # local variables of the method templates: a parameter may not shadow them


def pseudo_words(count: int, seed: int = 0) -> list[str]:
    """Pronounceable made-up words ("tomaku", "belira") for diversity: a model that has copied
    thousands of different words into identifiers learns the rule, not the vocabulary."""
    import random

    rng = random.Random(seed)
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    reserved = JAVA_KEYWORDS | set(ENGLISH) | set(SPANISH)
    words: set[str] = set()
    while len(words) < count:
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(2, 4)))
        if word not in reserved:
            words.add(word)
    return sorted(words)


def near_words(words: list[str], count: int, reserved: set[str], seed: int = 0) -> list[str]:
    """Made-up words one edit away from real ones ("lemon" -> "lemin", "brisa" -> "brusa"): the model
    must copy them letter for letter instead of "correcting" them to the word it knows, which is
    how a pretrained model fails on unseen words (`Limon` -> `Lemon`). None is in `reserved`."""
    import random

    rng = random.Random(seed)
    vowels, consonants = "aeiou", "bcdfghjklmnprstvz"
    pool = sorted({w for w in words if len(w) >= 4})
    out: set[str] = set()
    for _ in range(count * 50):
        if len(out) == count or not pool:
            break
        word = list(rng.choice(pool))
        i = rng.randrange(1, len(word))  # keep the first letter: the camelCase capital stays familiar
        if word[i] in vowels:
            word[i] = rng.choice([v for v in vowels if v != word[i]])
        elif word[i] in consonants:
            word[i] = rng.choice([c for c in consonants if c != word[i]])
        else:
            continue
        made = "".join(word)
        if made not in reserved and made not in JAVA_KEYWORDS | TEMPLATE_NAMES:
            out.add(made)
    return sorted(out)


def is_respelled(word: str, tokenizer) -> bool:
    """Whether `tokenizer` splits `word` into different pieces once capitalised inside a camelCase
    name: " pepper" is one token, but in `maximoHierroYPepper` it is "Pe" + "pper". To write such a
    name the model has to spell the word out instead of copying a token, and that is where generated
    names go wrong (`maximoHierroYP pepper`, `printOrbita Ivory`)."""

    def pieces(text: str, skip: str = "") -> list[str]:
        tokens = tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])
        text_pieces = [tokenizer.convert_tokens_to_string([t]) for t in tokens]
        while skip and text_pieces and skip.startswith(text_pieces[0]):
            skip = skip[len(text_pieces[0]) :]
            text_pieces = text_pieces[1:]
        if skip:  # a piece crossed the boundary: never equal to the lowercase word's pieces
            return ["", *text_pieces]
        return [p.strip().lower() for p in text_pieces if p.strip()]

    return pieces(" " + word) != pieces("product" + word[:1].upper() + word[1:], skip="product")


def respelled_words(words: list[str], tokenizer) -> list[str]:
    """The `words` that `tokenizer` splits differently once capitalised (`is_respelled`)."""
    return [w for w in words if is_respelled(w, tokenizer)]


def load_word_list(source: str) -> list[str]:
    """Words from a bundled list ("english", "spanish": see `words/`) or a text file, one per line
    (`#` starts a comment). Every word must be a lowercase ASCII Java identifier that is not a keyword;
    anything else is an error naming the file and line."""
    from modules.errors import UserInputError

    path = WORD_LISTS / f"{source}.txt" if "/" not in source and not source.endswith(".txt") else Path(source)
    if not path.is_file():
        bundled = ", ".join(sorted(p.stem for p in WORD_LISTS.glob("*.txt")))
        raise UserInputError(f"word list {source!r}: no such file (bundled lists: {bundled})")
    words = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        if not re.fullmatch(r"[a-z][a-z0-9]*", word) or word in JAVA_KEYWORDS | TEMPLATE_NAMES:
            raise UserInputError(
                f"{path}:{number}: {word!r} is not usable as a Java name here "
                "(lowercase ASCII letters/digits, not a Java keyword, not `i` or `result`)"
            )
        words.append(word)
    if not words:
        raise UserInputError(f"{path}: the word list is empty")
    return words
