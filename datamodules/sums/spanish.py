"""Spanish number words: writing addends and reading a generated sum back."""

from __future__ import annotations

import re
import unicodedata

# The generator writes 1..9; the reader also accepts 0 and 10..20, which a model may produce.
NUMBER_WORDS = {
    "cero": 0, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14,
    "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20,
}  # fmt: skip
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
    """Sum the number words of a generated completion.

    Returns:
        (sum, fully_parsed): words that are not number words add 0; `fully_parsed` is True only when
        the text is one or more number words joined by "más" and nothing else.
    """
    terms = [t.strip(" .,;:!?\n\t") for t in re.split(r"\bmas\b", _plain(text))]
    total, parsed = 0, bool(terms)
    for term in terms:
        if term in NUMBER_WORDS:
            total += NUMBER_WORDS[term]
        else:
            parsed = False
            total += sum(NUMBER_WORDS.get(word, 0) for word in re.findall(r"[a-z]+", term))
    return total, parsed


def target_of(prompt: str) -> int:
    """The number a prompt asks for: "33 es igual a" -> 33, "20 más 23 es igual a" -> 43."""
    numbers = [int(n) for n in re.findall(r"\d+", prompt)]
    if not numbers:
        raise ValueError(f"no number in prompt {prompt!r}")
    return sum(numbers)
