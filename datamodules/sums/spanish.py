"""Spanish number words: writing addends and reading a generated sum back."""

from __future__ import annotations

import re
import unicodedata

# The generator writes 1..9; the reader also accepts 0 and 10..20, which a model may produce.
NUMBER_WORDS = {
    "cero": 0,
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
    "trece": 13,
    "catorce": 14,
    "quince": 15,
    "dieciseis": 16,
    "diecisiete": 17,
    "dieciocho": 18,
    "diecinueve": 19,
    "veinte": 20,
}
WORDS_BY_VALUE = {v: w for w, v in NUMBER_WORDS.items()}
PLUS = "más"


def _plain(text: str) -> str:
    """Lower case without accents, so "Más" and "mas" read as "más", "dieciséis" as "dieciseis"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def write_sum(addends: list[int]) -> str:
    """[5, 3] -> "cinco más tres"."""
    return f" {PLUS} ".join(WORDS_BY_VALUE[a] for a in addends)


def read_sum(text: str) -> tuple[int, bool]:
    """Read a generated completion as a sum: `word (más word)*`, number words joined by "más".

    Case and accents are free ("Más", "mas", "dieciséis", "dieciseis") and surrounding whitespace
    is ignored; anything else does not parse: an empty output, other words or digits, punctuation,
    number words joined otherwise ("cinco, tres, ocho"), a dangling "más".

    Returns:
        (sum, parsed): the sum of the number words when the text parses, else (0, False).
    """
    terms = [term.strip() for term in re.split(r"\bmas\b", _plain(text).strip())]
    if not all(term in NUMBER_WORDS for term in terms):
        return 0, False
    return sum(NUMBER_WORDS[term] for term in terms), True


def target_of(prompt: str) -> int:
    """The number a prompt asks for: "33 es igual a" -> 33, "20 más 23 es igual a" -> 43."""
    numbers = [int(n) for n in re.findall(r"\d+", prompt)]
    if not numbers:
        raise ValueError(f"no number in prompt {prompt!r}")
    return sum(numbers)
