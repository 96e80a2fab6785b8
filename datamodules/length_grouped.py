"""A seeded, resumable sampler that puts examples of similar length in the same batch (less padding).

Batches are padded to their longest example: random batches of the Java instruction task are 73%
real tokens, length-grouped ones 99% (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from datamodules.resumable import ResumableSampler


class LengthGroupedSampler(ResumableSampler):
    """Indices in a random order where each run of `batch_size` indices has similar lengths.

    The data is shuffled, cut into groups of `group_batches * batch_size` examples, each group is
    sorted by length and cut into batches, and the batches are shuffled; the batch holding the
    longest example goes first, so a batch that does not fit in memory fails at the first step.
    The order is a function of (`seed`, epoch) alone, and a `ResumableSampler`: a run resumed
    mid-epoch (`ResumableLoader`) continues with the batches the interrupted run had not reached.
    On several processes whole batches are dealt out (batch i to rank i % world size; the first
    batches repeat to even the count, as `DistributedSampler` repeats examples), so every process's
    batches stay length-grouped.

    Args:
        lengths: the length of each example, in tokens.
        batch_size: the DataLoader's batch size.
        seed: the shuffling seed; the epoch is added to it (`set_epoch`).
        group_batches: batches per sorted group: more is less padding, fewer is more randomness.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, group_batches: int = 50):
        self.lengths = list(lengths)
        super().__init__(self.lengths, seed=seed, shuffle=True)
        self.batch_size = batch_size
        self.group_size = batch_size * group_batches

    def batches(self) -> list[list[int]]:
        """The epoch's batches over all processes, in order."""
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
        if self.num_replicas > 1:  # every process gets as many batches; the short one stays last
            full += full[: (-(len(full) + len(rest))) % self.num_replicas]
        return full + rest

    def rank_batches(self) -> list[list[int]]:
        """This process's share of the epoch's batches."""
        return self.batches()[self.rank :: self.num_replicas]

    def __len__(self) -> int:
        return sum(len(batch) for batch in self.rank_batches())

    def __iter__(self) -> Iterator[int]:
        indices = [i for batch in self.rank_batches() for i in batch]
        start, self.start = self.start, 0
        return iter(indices[start:])
