"""The Java instruction task's metrics on generated text, a torchmetrics Metric so its states reduce
across processes."""

from __future__ import annotations

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torchmetrics import Metric

from datamodules.java.javac import compile_snippets, javac_available


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
        for name in ("correct", "compiled", "count"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.compile_check = compile_check and javac_available()
        if compile_check and not self.compile_check:
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
