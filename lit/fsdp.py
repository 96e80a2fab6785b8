"""FSDP on any device, CPU processes included: torch's FSDP2 (`fully_shard`) behind a Lightning strategy.

Lightning's `FSDPStrategy` wraps torch's FSDP1, which Lightning refuses without a GPU ("The strategy
`fsdp` requires a GPU accelerator") and torch 2.13 refuses too ("FSDP needs a non-CPU accelerator
device"). FSDP2 shards each parameter as a DTensor over a device mesh and runs on CPU processes over
gloo as on GPUs over NCCL, so the sharded path is tested on a 2-core machine (tests/test_fsdp.py).

What this strategy adds to Lightning's `ModelParallelStrategy` (FSDP2 + tensor parallel, whose
`configure_model` the user writes):
- sharding done here, for any LightningModule: one FSDP unit per transformer block
  (`modules.strategies.is_transformer_block`), then each child of the LightningModule that holds
  parameters (the wrapped model) as a root unit; data parallel over every process.
- evaluation on whole weights: validation, test and predict gather every unit once when they start
  and free them when they end, so each process generates and scores its own shard of the held-out
  examples (a different number of batches, generations of different lengths) with no collective
  in between; between forward passes, sharded weights would need every process in lockstep.
- one-file checkpoints in the format of a one-process run (parameter names as the module's own,
  optimizer state keyed by parameter index), gathered after the LightningModule's `on_save_checkpoint`
  has chosen what to keep (with LoRA, the adapter only, so the frozen base is never gathered), and
  loaded through the LightningModule's own `load_state_dict` (each process keeping its shard): a
  checkpoint of this strategy loads in one process, and resumes here with `--ckpt_path last`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.collectives.torch_collective import default_pg_timeout
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.strategies import ModelParallelStrategy
from lightning.pytorch.strategies.strategy import Strategy
from torch import nn

from modules.strategies import is_transformer_block


def gather_full(value: Any) -> Any:
    """`value` (nested dicts, lists, tuples) with every DTensor gathered into a whole CPU tensor, and every
    other tensor on the CPU too, so the file loads anywhere.

    A collective per DTensor: every process calls it on a structure of the same shape, in the same order.
    """
    from torch.distributed.tensor import DTensor

    if isinstance(value, DTensor):
        return value.full_tensor().cpu()
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: gather_full(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(gather_full(v) for v in value)
    return value


def shard_like(full: Any, like: Any) -> Any:
    """`full` sharded as `like` is, where `like` is a DTensor of the same shape; else `full` as it is.

    Every process holds the whole checkpoint, so each keeps its own shard without communicating.
    """
    from torch.distributed.tensor import DTensor, distribute_tensor

    if isinstance(like, DTensor) and isinstance(full, torch.Tensor) and full.shape == like.shape:
        full = full.to(device=like.device, dtype=like.dtype)
        return distribute_tensor(full, like.device_mesh, like.placements, src_data_rank=None)
    return full


class FSDP2Strategy(ModelParallelStrategy):
    """Fully sharded data parallel (torch's FSDP2) on GPUs or CPU processes.

    Args:
        shard_unit: which submodules become FSDP units of their own (their parameters are gathered
            together, just before their forward); the default finds the transformer blocks of any
            `AutoModelForCausalLM` by class name.
        reshard_after_forward: free each block's gathered weights after its forward and gather them again
            in backward (ZeRO-3); False keeps them until backward (ZeRO-2-like: more memory, less traffic).
        process_group_backend: None picks NCCL on GPUs, gloo on CPUs.
        timeout: for collectives.
    """

    def __init__(
        self,
        shard_unit: Callable[[nn.Module], bool] = is_transformer_block,
        reshard_after_forward: bool = True,
        process_group_backend: str | None = None,
        timeout: timedelta | None = default_pg_timeout,
    ) -> None:
        super().__init__(
            data_parallel_size="auto",
            tensor_parallel_size=1,
            save_distributed_checkpoint=False,
            process_group_backend=process_group_backend,
            timeout=timeout,
        )
        self.shard_unit = shard_unit
        self.reshard_after_forward = reshard_after_forward
        self._reshard: dict[nn.Module, bool] = {}  # each FSDP unit -> its reshard_after_forward

    def setup_environment(self) -> None:
        # Every process in one data-parallel group (the mesh's tensor-parallel size is 1).
        self._data_parallel_size = self.num_nodes * self.num_processes
        super().setup_environment()

    # ---------------------------------------------------------------- sharding
    def setup(self, trainer) -> None:
        self.shard(self.lightning_module)
        super().setup(trainer)

    def shard(self, module: nn.Module) -> None:
        """Apply `fully_shard` to `module`'s blocks, then to each of its children that holds parameters."""
        from torch.distributed.fsdp import FSDPModule, fully_shard

        if any(isinstance(m, FSDPModule) for m in module.modules()):  # fit after validate: sharded already
            return
        mesh = self.device_mesh["data_parallel"]
        roots = [child for child in module.children() if any(True for _ in child.parameters())]
        for root in roots:
            for block in [m for m in root.modules() if m is not root and self.shard_unit(m)]:
                fully_shard(block, mesh=mesh, reshard_after_forward=self.reshard_after_forward)
                self._reshard[block] = self.reshard_after_forward
            # The root's weights (embeddings, head) are needed again at once by backward: kept gathered.
            fully_shard(root, mesh=mesh, reshard_after_forward=False)
            self._reshard[root] = False

    def _gather_for_evaluation(self) -> None:
        for unit in self._reshard:
            unit.set_reshard_after_forward(False, recurse=False)
        for unit in self._reshard:
            unit.unshard()

    def _release_after_evaluation(self) -> None:
        for unit, reshard in self._reshard.items():
            unit.reshard()
            unit.set_reshard_after_forward(reshard, recurse=False)

    def on_validation_start(self) -> None:
        self._gather_for_evaluation()

    def on_validation_end(self) -> None:
        self._release_after_evaluation()

    def on_test_start(self) -> None:
        self._gather_for_evaluation()

    def on_test_end(self) -> None:
        self._release_after_evaluation()

    def on_predict_start(self) -> None:
        self._gather_for_evaluation()

    def on_predict_end(self) -> None:
        self._release_after_evaluation()

    # ---------------------------------------------------------------- checkpoints
    @property
    def lightning_restore_optimizer(self) -> bool:
        return True  # through `load_optimizer_state_dict` below

    def lightning_module_state_dict(self) -> dict[str, Any]:
        # Sharded (DTensors, nothing gathered yet): `on_save_checkpoint` filters it first.
        return self.lightning_module.state_dict()

    def optimizer_state(self, optimizer) -> dict[str, Any]:
        if isinstance(optimizer, LightningOptimizer):
            optimizer = optimizer._optimizer
        return optimizer.state_dict()  # keyed by parameter index, as in one process; states sharded

    def save_checkpoint(
        self, checkpoint: dict[str, Any], filepath: _PATH, storage_options: Any | None = None
    ):
        path = Path(self.broadcast(filepath))
        checkpoint = gather_full(checkpoint)  # on every process: each one takes part in the gathers
        if self.is_global_zero:
            self.checkpoint_io.save_checkpoint(checkpoint, path, storage_options=storage_options)
        self.barrier()

    def load_checkpoint(self, checkpoint_path: _PATH, weights_only: bool | None = None) -> dict[str, Any]:
        # A one-file checkpoint, read whole by every process (Lightning's default, not ModelParallelStrategy's
        # distributed load); the weights go in through `load_model_state_dict`.
        return Strategy.load_checkpoint(self, self.broadcast(checkpoint_path), weights_only=weights_only)

    def load_model_state_dict(self, checkpoint, strict: bool = True) -> None:
        module = self.lightning_module
        own = module.state_dict()
        state = {k: shard_like(v, own.get(k)) for k, v in checkpoint["state_dict"].items()}
        module.load_state_dict(state, strict=strict)  # the module's own rules (e.g. adapter-only checkpoints)

    def load_optimizer_state_dict(self, checkpoint) -> None:
        for optimizer, state in zip(self.optimizers, checkpoint["optimizer_states"]):
            params = [p for group in optimizer.param_groups for p in group["params"]]
            state = dict(state)
            state["state"] = {
                index: {k: shard_like(v, params[index]) for k, v in values.items()}
                for index, values in state["state"].items()
            }
            optimizer.load_state_dict(state)
