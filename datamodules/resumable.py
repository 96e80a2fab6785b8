"""A training order that survives interruption: the shuffle and the position within it go into checkpoints.

Lightning restores a DataLoader's position only when the loader has `state_dict`/`load_state_dict`;
a plain shuffled DataLoader restarts the epoch in a new order (and draws its seeds from the global
RNG, which shifts every later dropout mask). `ResumableLoader` fixes both: its order is a function of
(seed, epoch) alone, and its state is the seed, the epoch and the batches already handed out, so a
run resumed mid-epoch trains on exactly the batches the interrupted run had not reached.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler


def default_seed() -> int:
    # `seed_everything` (the configs' `seed_everything:`) exports the seed; without it, one draw.
    seed = os.environ.get("PL_GLOBAL_SEED")
    return int(seed) if seed is not None else int(torch.empty((), dtype=torch.int64).random_().item())


class ResumableSampler(DistributedSampler):
    """The per-epoch permutation of `DistributedSampler` (seed + epoch), able to start part-way once.

    A `DistributedSampler`, so Lightning neither wraps nor replaces it on several devices; on one
    process it is a plain seeded shuffle.
    """

    def __init__(self, dataset, seed: int, shuffle: bool = True):
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(
            dataset,
            num_replicas=dist.get_world_size() if distributed else 1,
            rank=dist.get_rank() if distributed else 0,
            shuffle=shuffle,
            seed=seed,
        )
        self.start = 0  # indices of this epoch's share to skip, once (set by a resume)

    def __iter__(self):
        indices = list(super().__iter__())
        start, self.start = self.start, 0
        return iter(indices[start:])


class ResumableLoader(DataLoader):
    """A shuffling DataLoader whose state (seed, epoch, batches handed out) Lightning checkpoints.

    Args:
        dataset: a map-style dataset.
        batch_size: examples per batch.
        seed: shuffle seed; None follows `seed_everything` (or draws one). Saved with the state.
        shuffle: shuffle each epoch; False keeps the dataset order (and still resumes in place).
        sampler: None builds the resumable one; a `ResumableSampler` given (`LengthGroupedSampler`)
            resumes in place too. Lightning passes another only when it rebuilds the loader (e.g.
            `overfit_batches`), and that order then restarts on resume.
        **kwargs: passed to `DataLoader` (collate_fn, num_workers, ...).
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        seed: int | None = None,
        shuffle: bool = True,
        sampler=None,
        **kwargs,
    ):
        seed = default_seed() if seed is None else seed
        if sampler is None:
            sampler = ResumableSampler(dataset, seed, shuffle)
        # Worker seeds come from this generator, not the global RNG the model's dropout uses.
        kwargs.setdefault("generator", torch.Generator().manual_seed(seed))
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, **kwargs)
        self.seed = seed
        self._position = {"epoch": 0, "batches": 0}
        self._resume: dict | None = None

    def __iter__(self):
        # A generator: the sampler's epoch is read at the first batch, after Lightning's `set_epoch`.
        epoch = getattr(self.sampler, "epoch", 0)
        start = 0
        if self._resume is not None and self._resume["epoch"] == epoch:
            start = self._resume["batches"]
        self._resume = None
        if start and isinstance(self.sampler, ResumableSampler):
            self.sampler.start = start * self.batch_size
        self._position = {"epoch": epoch, "batches": start}
        for batch in super().__iter__():
            self._position["batches"] += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, **self._position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = state["seed"]
        if isinstance(self.sampler, ResumableSampler):
            self.sampler.seed = state["seed"]
            self.sampler.set_epoch(state["epoch"])
        self._resume = {"epoch": state["epoch"], "batches": state["batches"]}
