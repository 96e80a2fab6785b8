"""Learning-rate warm-up then cosine decay, as one scheduler a YAML file can name."""

from __future__ import annotations

import math

import torch


class WarmupCosineLR(torch.optim.lr_scheduler.LambdaLR):
    """Linear warm-up from 0 to the optimizer's lr over `warmup_steps`, then cosine decay to
    `min_lr_ratio` x lr at `total_steps` (held there after). Stepped every optimizer step.

    Why warm-up: Adam's first updates are full-size whatever the gradient's scale, and on the sums
    task a constant 2e-3 from step 0 sent the model into "nueve más nueve más ..." loops that it
    sometimes never left (docs/results.md: what decides between learning and the loop). Why decay: the last
    steps settle
    instead of jumping between a model that counts and one that loops.

    Args:
        optimizer: the optimizer (given by Lightning).
        warmup_steps: steps of linear warm-up.
        total_steps: the step where the decay ends (the run's `max_steps`).
        min_lr_ratio: the final lr as a fraction of the peak.
    """

    def __init__(
        self, optimizer, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.1, last_epoch: int = -1
    ):
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(f"need 0 <= warmup_steps < total_steps, got {warmup_steps} and {total_steps}")
        self.warmup_steps, self.total_steps, self.min_lr_ratio = warmup_steps, total_steps, min_lr_ratio
        super().__init__(optimizer, self.factor, last_epoch=last_epoch)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
