"""What a held-out check compares: the words a model reads and writes, in any spelling.

A held-out word must not reach training in another spelling either: "Limón" in a message is the identifier
word "limon" once folded to ASCII (`imprimeLimon`), and "maximoHierroYPepper" holds "hierro" and "pepper".
`words_as_read` gives the words of a text as a model meets them across the task: accents folded, camel case
and punctuation split, lower case; `leaks` finds held-out words among a split's texts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Letters NFKD does not take apart into a base letter and an accent.
LIGATURES = {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ł": "l", "þ": "th"}


def fold(text: str) -> str:
    """Letters without their accents, ligatures spelled out: "Vórtice" -> "Vortice", "Straße" -> "Strasse"
    (case kept, nothing else changed)."""

    def unligature(c: str) -> str:
        plain = LIGATURES.get(c.lower(), c)
        return plain.capitalize() if c.isupper() and c.lower() in LIGATURES else plain

    folded = "".join(unligature(c) for c in text)
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


def words_as_read(text: str) -> set[str]:
    """The words of `text` folded to ASCII, camel case split ("printHolaVortice42" -> print, hola, vortice),
    lower case; digits and punctuation separate words."""
    words = set()
    for run in re.findall(r"[A-Za-z]+", fold(text)):
        words.update(part.lower() for part in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", run))
    return words


def leaks(held_out: Iterable[str], texts: Iterable[str]) -> dict[str, str]:
    """Each held-out word (folded, lower case) that a text reads or writes, with the first such text."""
    wanted = {fold(w).lower() for w in held_out}
    found: dict[str, str] = {}
    for text in texts:
        for word in words_as_read(text) & wanted:
            found.setdefault(word, text)
    return found
