"""The Java instruction task's metrics on generated text, a torchmetrics Metric so its states reduce
across processes."""

from __future__ import annotations

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torchmetrics import Metric

from datamodules.java.javac import compile_snippets, javac_available, members
from datamodules.java.run import is_runnable, printed_outputs


def normalize_code(code: str) -> str:
    """Whitespace-normalised code: runs of whitespace become one space, ends stripped."""
    return " ".join(code.split())


def java_score(completion: str, reference: str) -> float:
    """One generation's accuracy: 1.0 where it is the reference method, whitespace aside."""
    return float(normalize_code(completion) == normalize_code(reference))


class JavaMetrics(Metric):
    """Java instructions: `accuracy` (generated == reference after whitespace normalisation) and
    `compile_rate` (the generation declares the members its reference does, `members`: one method
    with a body for most instructions, a field with its getter and setter for one family; and javac
    accepts it).

    `prints_right`, over the examples whose reference is a method without parameters (the print
    instructions): the generated method, called, prints exactly what the reference prints
    (`run.printed_outputs`): accents, punctuation and case included, whatever the method's name.

    Generations wait until `compute`, then compile (and run) in one javac run per process before the
    counts reduce across processes. Without javac, `compile_rate` and `prints_right` are left out,
    with one warning.

    Args:
        compile_check: measure `compile_rate` and `prints_right`.
    """

    full_state_update = False

    def __init__(self, compile_check: bool = True, **kwargs):
        super().__init__(**kwargs)
        for name in ("correct", "compiled", "count", "printing", "printed_right"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.compile_check = compile_check and javac_available()
        if compile_check and not self.compile_check:
            rank_zero_warn("javac not found: val/compile_rate is skipped (install a JDK to measure it)")
        self._pending: list[tuple[str, str]] = []  # (generation, reference) until compiled

    def update(self, completions: list[str], references: list[str]) -> None:
        for completion, reference in zip(completions, references, strict=True):
            self.correct += int(normalize_code(completion) == normalize_code(reference))
            self.count += 1
        if self.compile_check:
            self._pending.extend(zip(completions, references))

    def _compile_pending(self) -> None:
        if self._pending:
            outputs = [output for output, _ in self._pending]
            compiled = compile_snippets(outputs)
            self.compiled += sum(
                ok and bool(members(output)) and members(output) == members(reference)
                for ok, (output, reference) in zip(compiled, self._pending)
            )
            printing = [(output, reference) for output, reference in self._pending if is_runnable(reference)]
            if printing:
                printed = printed_outputs([o for o, _ in printing] + [r for _, r in printing])
                generated, expected = printed[: len(printing)], printed[len(printing) :]
                self.printing += len(printing)
                self.printed_right += sum(g is not None and g == e for g, e in zip(generated, expected))
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
            if self.printing > 0:  # a set without print instructions has nothing to run
                values["prints_right"] = self.printed_right.float() / self.printing.float()
        return values

    def reset(self) -> None:
        super().reset()
        self._pending = []
