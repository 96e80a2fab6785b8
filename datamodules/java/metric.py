"""The Java instruction task's metrics on generated text, a torchmetrics Metric so its states reduce
across processes."""

from __future__ import annotations

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torchmetrics import Metric

from datamodules.java.behaviour import PRINTS, plan_for, runs_right
from datamodules.java.javac import compile_snippets, javac_available, members


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

    `runs_right`, over the examples whose reference can be called (every family of the task): the
    generated method, called on its reference's inputs, returns and prints what the reference does
    (`behaviour.runs_right`), whatever its name; a method that compiles but computes something else scores
    0. `prints_right` is the same over the print instructions alone (the reference takes no arguments):
    what it prints, accents, punctuation and case included.

    Generations wait until `compute`, then compile (and run) in one javac and one JVM run per process
    before the counts reduce across processes. Without javac, `compile_rate`, `runs_right` and
    `prints_right` are left out, with one warning.

    Args:
        compile_check: measure `compile_rate`, `runs_right` and `prints_right`.
    """

    full_state_update = False

    def __init__(self, compile_check: bool = True, **kwargs):
        super().__init__(**kwargs)
        for name in ("correct", "compiled", "count", "runnable", "ran_right", "printing", "printed_right"):
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
            scores = runs_right(outputs, [reference for _, reference in self._pending])
            for score, (_, reference) in zip(scores, self._pending):
                if score is not None:
                    self.runnable += 1
                    self.ran_right += int(score)
                    if plan_for(reference) == PRINTS:  # a print instruction: one call, no arguments
                        self.printing += 1
                        self.printed_right += int(score)
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
            if self.runnable > 0:  # a set of instructions none can call has nothing to run
                values["runs_right"] = self.ran_right.float() / self.runnable.float()
            if self.printing > 0:
                values["prints_right"] = self.printed_right.float() / self.printing.float()
        return values

    def reset(self) -> None:
        super().reset()
        self._pending = []
