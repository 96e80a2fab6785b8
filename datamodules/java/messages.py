"""Print instructions as people write them: accented words, punctuation, digits and mixed case.

`// Una función que imprime "¡Hola, Vórtice 42!"` asks for a method that prints exactly that text;
its name is the message's words folded to ASCII (`imprimeHolaVortice42`), so the method compiles
anywhere, while the string keeps every accent, ñ and mark. The words come from an accented list
(`message_words/accented.txt`) and the task's own vocabulary, split into training and held-out
words as the rest of the task is.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection
from pathlib import Path

from datamodules.java.phrasings import templates
from datamodules.overlap import fold

ACCENTED_FILE = Path(__file__).parent / "message_words" / "accented.txt"

JOINERS = [" ", " ", ", ", ": ", " - "]
FRAMES = ["{}", "{}!", "{}.", "{}?", "¡{}!", "¿{}?", "{}...", "({})"]


def load_accented_words() -> list[str]:
    lines = ACCENTED_FILE.read_text(encoding="utf-8").splitlines()
    return [w.strip() for w in lines if w.strip() and not w.startswith("#")]


def split_words(words: list[str], every: int = 5) -> tuple[list[str], list[str]]:
    """Every `every`-th word held out, as `words.held_out` splits the identifier words."""
    return (
        [w for i, w in enumerate(words) if i % every != every - 1],
        [w for i, w in enumerate(words) if i % every == every - 1],
    )


def split_accented(
    words: list[str], trained: Collection[str], held_out: Collection[str], every: int = 5
) -> tuple[list[str], list[str]]:
    """(training, held-out) accented words, split by the word a method name writes (`to_ascii`): "limón"
    goes where the identifier word "limon" is, so a held-out word reaches training in no spelling. `trained`
    and `held_out` are the task's words in lower-case ASCII (identifier words, and words its templates
    write, which can only be trained); the rest are split every `every`-th, and a folded form shared by
    a held-out word is never trained."""
    train, held, rest = [], [], []
    for word in words:
        folded = to_ascii(word).lower()
        (held if folded in held_out else train if folded in trained else rest).append(word)
    rest_train, rest_held = split_words(rest, every)
    held += rest_held
    held_folds = {to_ascii(w).lower() for w in held}
    return [w for w in train + rest_train if to_ascii(w).lower() not in held_folds], held


def to_ascii(word: str) -> str:
    """ "Vórtice" -> "Vortice", "Straße" -> "Strasse", "ñandú" -> "nandu": a word as it can stand in a
    Java name that any editor and build tool reads."""
    return re.sub(r"[^A-Za-z0-9]", "", fold(word))


def write_message(words: list[str], rng: random.Random) -> str:
    """The words as a message: a case (Title, lower, UPPER or Sentence), maybe a number, a joiner
    between the words and a frame of punctuation (¡...!, ¿...?, ...)."""
    case = rng.choice(["title", "title", "lower", "upper", "sentence"])
    cased = {
        "title": [w[:1].upper() + w[1:] for w in words],
        "lower": list(words),
        "upper": [w.upper() for w in words],
        "sentence": [words[0][:1].upper() + words[0][1:], *words[1:]],
    }[case]
    if rng.random() < 0.3:
        cased.insert(rng.randrange(len(cased) + 1), str(rng.randint(1, 2026)))
    return rng.choice(FRAMES).format(rng.choice(JOINERS).join(cased))


def method_name(verb: str, message: str) -> str:
    """ "print" and "¡Hola, VÓRTICE 42!" -> "printHolaVortice42": camelCase of the folded words."""
    parts = [to_ascii(token).lower() for token in re.findall(r"[^\W_]+", message)]
    return verb + "".join(p[:1].upper() + p[1:] for p in parts if p)


def render_message(
    words: list[str], lang: str, rng: random.Random, phrasing: str = "train"
) -> tuple[str, str]:
    """(instruction, method) for a message made of `words`, worded as a print instruction of the
    `phrasing` group ("train", "val" or "test": `phrasings.py`)."""
    message = write_message(words, rng)
    name = method_name("print" if lang == "en" else "imprime", message)
    text = rng.choice(templates("print", lang, phrasing)).format(message=message)
    return text, f'public static void {name}() {{\n    System.out.println("{message}");\n}}'
