"""Words for the Java instruction task, English and Spanish, split into training and held-out sets.

The seed diversified its instructions by mixing English and Spanish words and failed on words it
had never seen; validation and test here use only held-out words, so accuracy measures exactly that.
"""

from __future__ import annotations

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

JAVA_KEYWORDS = set("""
abstract assert boolean break byte case catch char class const continue default do double else enum
extends final finally float for goto if implements import instanceof int interface long native new
package private protected public return short static strictfp super switch synchronized this throw
throws transient try void volatile while true false null var record yield sealed permits
""".split())


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
