"""The sums task's metric on generated text, a torchmetrics Metric so its state reduces across processes."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from datamodules.sums.spanish import read_sum


class SumMAE(Metric):
    """Spanish sums: |target - sum of the generated number words|.

    Logs `mae`, `exact` (sum == target) and `parse_rate` (output is only number words joined by
    "más", `read_sum`). Unparseable output counts as sum 0. References are the target numbers (int or str).
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


def words_sum_error(prediction: str, reference: str) -> float:
    """|sum of the reference's number words - sum of the prediction's| (`read_sum`; unparseable: 0):
    a scoring function a config names as a metric (`class_path: datamodules.sums.metric.words_sum_error`)."""
    return float(abs(read_sum(reference)[0] - read_sum(prediction)[0]))
