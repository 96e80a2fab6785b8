"""Task metrics on generated text, as torchmetrics so their states reduce across processes."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from datamodules.spanish import read_sum


class SumMAE(Metric):
    """Spanish sums: |target - sum of the generated number words|.

    Logs `mae`, `exact` (sum == target) and `parse_rate` (output is only number words joined by
    "más"). Unparseable output counts as sum 0. References are the target numbers (int or str).
    """

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for name in ("abs_error", "exact", "parsed", "count"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, completions: list[str], references: list) -> None:
        if len(completions) != len(references):
            raise ValueError(f"{len(completions)} completions for {len(references)} references")
        for completion, reference in zip(completions, references):
            total, parsed = read_sum(completion)
            error = abs(int(reference) - total)
            self.abs_error += error
            self.exact += int(error == 0)
            self.parsed += int(parsed)
            self.count += 1

    def compute(self) -> dict[str, torch.Tensor]:
        count = self.count.clamp(min=1).float()
        return {
            "mae": self.abs_error.float() / count,
            "exact": self.exact.float() / count,
            "parse_rate": self.parsed.float() / count,
        }


def sum_error(completion: str, reference) -> float:
    """The per-example score SumMAE averages: absolute error of the generated sum."""
    return float(abs(int(reference) - read_sum(completion)[0]))


def normalize_code(code: str) -> str:
    """Whitespace-normalised code: runs of whitespace become one space, ends stripped."""
    return " ".join(code.split())


class JavaMetrics(Metric):
    """Java instructions: `accuracy` (generated == reference after whitespace normalisation) and
    `compile_rate` (javac accepts the generated method).

    Generations wait until `compute`, then compile in one javac run per process before the counts
    reduce across processes. Without javac, `compile_rate` is left out, with one warning.

    Args:
        compile_check: measure `compile_rate`.
    """

    full_state_update = False

    def __init__(self, compile_check: bool = True, **kwargs):
        super().__init__(**kwargs)
        from modules.java_compile import javac_available

        for name in ("correct", "compiled", "count"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.compile_check = compile_check and javac_available()
        if compile_check and not self.compile_check:
            from lightning.pytorch.utilities import rank_zero_warn

            rank_zero_warn("javac not found: val/compile_rate is skipped (install a JDK to measure it)")
        self._pending: list[str] = []

    def update(self, completions: list[str], references: list[str]) -> None:
        for completion, reference in zip(completions, references, strict=True):
            self.correct += int(normalize_code(completion) == normalize_code(reference))
            self.count += 1
        if self.compile_check:
            self._pending.extend(completions)

    def _compile_pending(self) -> None:
        if self._pending:
            from modules.java_compile import compile_snippets

            self.compiled += sum(compile_snippets(self._pending))
            self._pending = []

    def sync(self, *args, **kwargs) -> None:
        self._compile_pending()  # before the counts leave this process
        super().sync(*args, **kwargs)

    def compute(self) -> dict[str, torch.Tensor]:
        self._compile_pending()
        count = self.count.clamp(min=1).float()
        values = {"accuracy": self.correct.float() / count}
        if self.compile_check:
            values["compile_rate"] = self.compiled.float() / count
        return values

    def reset(self) -> None:
        super().reset()
        self._pending = []
