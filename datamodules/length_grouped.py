"""A seeded sampler that puts examples of similar length in the same batch (less padding).

Batches are padded to their longest example: random batches of the Java instruction task are 73%
real tokens, length-grouped ones 99% (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class LengthGroupedSampler(Sampler[int]):
    """Indices in a random order where each run of `batch_size` indices has similar lengths.

    The data is shuffled, cut into groups of `group_batches * batch_size` examples, each group is
    sorted by length and cut into batches, and the batches are shuffled; the batch holding the
    longest example goes first, so a batch that does not fit in memory fails at the first step.
    The order is a function of (`seed`, epoch) alone, so a run with the same seed sees the same
    batches in the same order. A DataLoader with this sampler and `batch_size` (not shuffle) makes
    the batches; under DDP Lightning strides the index stream across processes, which keeps each
    process's batches length-grouped.

    Args:
        lengths: the length of each example, in tokens.
        batch_size: the DataLoader's batch size.
        seed: the shuffling seed; the epoch is added to it (`set_epoch`).
        group_batches: batches per sorted group: more is less padding, fewer is more randomness.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, group_batches: int = 50):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group_size = batch_size * group_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this at the start of every epoch: each epoch gets its own order."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def batches(self) -> list[list[int]]:
        """The epoch's batches, in order."""
        generator = torch.Generator().manual_seed((self.seed + self.epoch) % 2**63)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        batches = []
        for start in range(0, len(order), self.group_size):
            group = sorted(order[start : start + self.group_size], key=self.lengths.__getitem__, reverse=True)
            batches += [group[i : i + self.batch_size] for i in range(0, len(group), self.batch_size)]
        # A short last batch stays last, so the DataLoader cuts the stream at the same places.
        full, rest = (batches[:-1], batches[-1:]) if len(batches[-1]) < self.batch_size else (batches, [])
        full = [full[i] for i in torch.randperm(len(full), generator=generator).tolist()]
        if full:
            longest = max(range(len(full)), key=lambda i: self.lengths[full[i][0]])
            full.insert(0, full.pop(longest))
        return full + rest

    def __iter__(self) -> Iterator[int]:
        for batch in self.batches():
            yield from batch
