"""Evaluation data under several processes: each example scored exactly once."""

from __future__ import annotations

import torch.distributed as dist
from torch.utils.data import Sampler


def eval_sampler(dataset) -> Sampler | None:
    """A shard of `dataset` for this process, without the padding `DistributedSampler` adds.

    Lightning gives validation loaders a `DistributedSampler`, which repeats examples so every rank
    gets as many: a metric would count those twice. Here rank r takes examples r, r + world, ...;
    shards may differ by one example, which evaluation (no gradient sync) allows. Lightning keeps a
    sampler it is given. None when running in one process.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return None
    from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

    return UnrepeatedDistributedSampler(
        dataset, num_replicas=dist.get_world_size(), rank=dist.get_rank(), shuffle=False
    )
