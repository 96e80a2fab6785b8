"""Text metrics on generated output, each a torchmetrics Metric that also scores one generation
(`example_score`): the built-ins a config names by name (`datamodules.metrics`).

Exact match (ends stripped), normalized exact match (`normalize`: case, accents, punctuation and
spacing ignored), contains (the normalized reference as whole words in the normalized output), the
first number's absolute error (`NumberError`: 0 stands in for an output without one, and
`number_found` says how often there was one), regex extraction (`RegexMatch`), and torchmetrics'
chrF (0..1; strings under 6 characters cannot reach 1), BLEU (corpus BLEU-4 by default) and
character edit distance, adapted to one reference per output.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import torch
from torchmetrics import Metric
from torchmetrics.functional.text import bleu_score, chrf_score, edit_distance
from torchmetrics.text import BLEUScore, CHRFScore, EditDistance


def normalize(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, runs of spaces as one: "¡Sí, Señor!" -> "si senor"."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def first_number(text: str) -> float | None:
    """The first number written with digits: "about 1,234.5 km" -> 1234.5; None if there is none."""
    match = NUMBER.search(text)
    return None if match is None else float(match.group().replace(",", ""))


def exact_match(prediction: str, reference: str) -> float:
    return float(prediction.strip() == reference.strip())


def normalized_exact_match(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


def contains(prediction: str, reference: str) -> float:
    wanted = normalize(reference)
    return float(bool(wanted) and f" {wanted} " in f" {normalize(prediction)} ")  # whole words only


class MeanScore(Metric):
    """The mean of a per-example score `fn(prediction, reference)` over every generation."""

    full_state_update = False

    def __init__(self, fn: Callable[[str, str], float], **kwargs):
        super().__init__(**kwargs)
        self.fn = fn
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, predictions: list[str], references: list[str]) -> None:
        for prediction, reference in zip(predictions, references, strict=True):
            self.total += float(self.fn(prediction, reference))
            self.count += 1

    def compute(self) -> torch.Tensor:
        return (self.total / self.count.clamp(min=1)).float()

    def example_score(self, prediction: str, reference: str) -> float:
        return float(self.fn(prediction, reference))


class NumberError(Metric):
    """`number_error`: |first number of the output - first number of the reference|, 0 standing in
    for an output without one; `number_found`: the share of outputs with a number."""

    full_state_update = False

    def __init__(self, key: str = "number_error", **kwargs):
        super().__init__(**kwargs)
        self.key = key
        for name, dtype in (("error", torch.float64), ("found", torch.long), ("count", torch.long)):
            self.add_state(name, default=torch.tensor(0, dtype=dtype), dist_reduce_fx="sum")

    @staticmethod
    def reference_problem(reference: str) -> str | None:
        return None if first_number(reference) is not None else "has no number written with digits"

    def example_score(self, prediction: str, reference: str) -> float:
        return abs((first_number(prediction) or 0.0) - first_number(reference))

    def update(self, predictions: list[str], references: list[str]) -> None:
        for prediction, reference in zip(predictions, references, strict=True):
            self.error += self.example_score(prediction, reference)
            self.found += int(first_number(prediction) is not None)
            self.count += 1

    def compute(self) -> dict[str, torch.Tensor]:
        count = self.count.clamp(min=1)
        found_key = self.key.replace("error", "found") if "error" in self.key else f"{self.key}_found"
        return {self.key: (self.error / count).float(), found_key: self.found.float() / count}


class RegexMatch(MeanScore):
    """`regex_match`: the pattern's `group` in the output equals the reference, or the same group of
    the reference where the pattern matches it ("#### 42" answers); no match in the output scores 0.

    Args:
        pattern: a Python regular expression, searched (not matched from the start).
        group: the group to compare (0: the whole match).
        ignore_case: search and compare without regard to case.
    """

    def __init__(self, pattern: str, group: int = 1, ignore_case: bool = False, **kwargs):
        self.regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        if group > self.regex.groups:
            raise ValueError(
                f"regex_match: pattern {pattern!r} has {self.regex.groups} group(s), not group {group}"
            )
        self.group, self.ignore_case = group, ignore_case
        super().__init__(self._score, **kwargs)

    def _extract(self, text: str) -> str | None:
        match = self.regex.search(text)
        return None if match is None or match.group(self.group) is None else match.group(self.group).strip()

    def _score(self, prediction: str, reference: str) -> float:
        found, wanted = self._extract(prediction), self._extract(reference) or reference.strip()
        if found is None:
            return 0.0
        return float(found.lower() == wanted.lower() if self.ignore_case else found == wanted)


class ChrF(CHRFScore):
    """torchmetrics' chrF on one reference per output (0..1)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._settings = kwargs

    def update(self, predictions: list[str], references: list[str]) -> None:
        super().update(predictions, [[r] for r in references])

    def example_score(self, prediction: str, reference: str) -> float:
        return float(chrf_score([prediction], [[reference]], **self._settings))


class Bleu(BLEUScore):
    """torchmetrics' corpus BLEU on one reference per output (0..1); per example, sentence BLEU."""

    def __init__(self, n_gram: int = 4, smooth: bool = False, **kwargs):
        super().__init__(n_gram=n_gram, smooth=smooth, **kwargs)
        self._settings = {"n_gram": n_gram, "smooth": smooth}

    def update(self, predictions: list[str], references: list[str]) -> None:
        super().update(predictions, [[r] for r in references])

    def example_score(self, prediction: str, reference: str) -> float:
        return float(bleu_score([prediction], [[reference]], **self._settings))


class EditDistanceMean(EditDistance):
    """torchmetrics' character edit distance, the mean over outputs."""

    def example_score(self, prediction: str, reference: str) -> float:
        return float(edit_distance([prediction], [reference]))


BUILT_INS: dict[str, Callable[..., Metric]] = {
    "exact_match": lambda **kw: MeanScore(exact_match, **kw),
    "normalized_exact_match": lambda **kw: MeanScore(normalized_exact_match, **kw),
    "contains": lambda **kw: MeanScore(contains, **kw),
    "number_error": NumberError,
    "regex_match": RegexMatch,
    "chrf": ChrF,
    "bleu": Bleu,
    "edit_distance": EditDistanceMean,
}
