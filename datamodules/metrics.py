"""Metrics on generated text named in a config, for any data: built-in, torchmetrics', or a user's own.

    metrics:
      - exact_match                      # a built-in by name
      - {name: regex_match, pattern: "#### (-?\\d+)", key: answer}   # with settings; logged as val/answer
      - class_path: my_package.scores.f1 # a function (prediction, reference) -> float, averaged
      - class_path: torchmetrics.text.WordErrorRate   # a torchmetrics Metric on (predictions, references)
        key: wer

Built-ins (`BUILT_INS`): `exact_match` (equal after stripping the ends), `normalized_exact_match`
(equal after `normalize`: case, accents, punctuation and spacing ignored), `contains` (the
normalized reference appears in the normalized output), `number_error` (absolute error of the first
number in the output against the first in the reference; an output with none counts as 0, and
`number_found` logs how often there was one), `regex_match` (the pattern's group in the output equals
the reference, or the same group of the reference where the pattern matches it), and torchmetrics'
text metrics `chrf` (chrF, 0..1; strings under 6 characters cannot reach 1), `bleu` (corpus BLEU-4,
`n_gram`/`smooth` settable) and `edit_distance` (mean character edits).

Every metric is a torchmetrics Metric (states reduce across processes); each also scores one
generation (`NamedMetrics.scores`), which `predict` and the logged samples show beside it.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torchmetrics import Metric, MetricCollection

from datamodules.text_metrics import BUILT_INS, MeanScore


def _import(path: str):
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"metrics: cannot import {path!r}: {error}") from None


@dataclass
class MetricSpec:
    """One entry of `metrics`: what to build and the key it logs under."""

    key: str
    make: Callable[[], Metric]
    settings: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | dict[str, Any]) -> MetricSpec:
        if isinstance(spec, str):
            spec = {"name": spec}
        spec = dict(spec)
        key = spec.pop("key", None)
        if "class_path" in spec:
            target, settings = _import(spec.pop("class_path")), dict(spec.pop("init_args", None) or {})
            if spec:
                raise ValueError(
                    f"metrics: unknown setting(s) {sorted(spec)} beside class_path (use init_args)"
                )
            if isinstance(target, type) and issubclass(target, Metric):
                return cls(key or _snake(target.__name__), functools.partial(target, **settings), settings)
            if callable(target):  # a scoring function (prediction, reference) -> float
                fn = functools.partial(target, **settings) if settings else target
                return cls(
                    key or getattr(target, "__name__", "score"), functools.partial(MeanScore, fn), settings
                )
            raise ValueError(f"metrics: {target!r} is neither a torchmetrics Metric nor a scoring function")
        name = spec.pop("name", None)
        if name not in BUILT_INS:
            raise ValueError(
                f"metrics: unknown metric {name!r}; built-in: {', '.join(BUILT_INS)}, or a class_path"
            )
        if name == "number_error":
            spec.setdefault("key", key or name)
        return cls(key or name, functools.partial(BUILT_INS[name], **spec), spec)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _keys_of(metric: Metric) -> set[str]:
    """The keys a metric's `compute` gives (computed on a fresh copy, before any update)."""
    import warnings

    probe = metric.clone()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "compute was called before update"
        try:
            value = probe.compute()
        except Exception:  # a metric that cannot compute empty: its keys are found at the first validation
            return set()
    return set(value) if isinstance(value, dict) else set()


def example_score(metric: Metric, prediction: str, reference: str) -> float | dict[str, float]:
    """One generation's score by `metric`: its own `example_score`, else the metric of that one example."""
    if hasattr(metric, "example_score"):
        return metric.example_score(prediction, reference)
    single = metric.clone()
    single.reset()
    single.update([prediction], [reference])
    value = single.compute()
    return {k: float(v) for k, v in value.items()} if isinstance(value, dict) else float(value)


class NamedMetrics:
    """The configured metrics: a Metric that logs them all (with the task's own), and per-example scores."""

    def __init__(self, specs: list[MetricSpec]):
        keys = [s.key for s in specs]
        if len(set(keys)) < len(keys):
            raise ValueError(f"metrics: two metrics log under the same key ({keys}); set `key` on one")
        self.specs = specs
        self.scorers = [(s.key, s.make()) for s in specs]  # built once: the per-example scores

    def build(self, own: Metric | None = None) -> MetricCollection:
        metrics = {spec.key: spec.make() for spec in self.specs}
        if own is not None:
            taken = set(metrics) & _keys_of(own)
            if (
                taken
            ):  # torchmetrics would rename the task's keys (`task_mae`), and a monitored key would vanish
                raise ValueError(
                    f"metrics: key(s) {sorted(taken)} are the task's own metric's; set another `key`"
                )
            metrics = {"task": own, **metrics}
        return MetricCollection(metrics, compute_groups=False)

    def scores(self, prediction: str, reference: str | None) -> dict[str, float]:
        if reference is None:
            return {}
        out = {}
        for key, metric in self.scorers:
            value = example_score(metric, prediction, reference)
            out.update(value if isinstance(value, dict) else {key: value})
        return out

    def reference_problems(self, reference: str | None) -> list[str]:
        """Why a reference cannot be scored by some metric (None: no reference at all)."""
        if reference is None:
            return [
                "no reference (a last assistant turn, a completion or `reference`) to score generations "
                "against"
            ]
        problems = []
        for key, metric in self.scorers:
            check = getattr(metric, "reference_problem", None)
            problem = check(reference) if check else None
            if problem:
                problems.append(f"reference {reference[:40]!r} {problem} (metric {key})")
        return problems
