"""DeepSpeed on any device, CPU processes included: Lightning's `DeepSpeedStrategy`, less its CUDA-only
checks.

Lightning refuses DeepSpeed without CUDA ("The DeepSpeed strategy is only supported on CUDA GPUs but
`CPUAccelerator` is used"), then checks CPU device indices as GPU ones, and hands DeepSpeed
`device_rank=None`,
which DeepSpeed's engine compares with 0. DeepSpeed itself runs on CPUs (its CPU accelerator, over gloo), so
on CPU processes this strategy initialises the process group as DDP does and gives each process the index of
its rank; on GPUs it is Lightning's strategy unchanged. ZeRO-2 on 2 CPU processes is tested
(tests/test_deepspeed.py).

Checkpoints are DeepSpeed's: a folder per checkpoint, each process's shard of the optimizer state beside the
weights. `lit fit --ckpt_path last` resumes from it; one process (validate, export) reads it once Lightning's
`convert_zero_checkpoint_to_fp32_state_dict(FOLDER, FILE)` has written the weights into one file.
"""

from __future__ import annotations

import torch
from lightning.fabric.utilities.seed import reset_seed
from lightning.pytorch.accelerators import CUDAAccelerator
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.strategies import DeepSpeedStrategy as LightningDeepSpeedStrategy


class DeepSpeedStrategy(LightningDeepSpeedStrategy):
    """Lightning's `DeepSpeedStrategy` (same arguments), on GPUs or CPU processes."""

    def _on_cpu(self) -> bool:
        return not isinstance(self.accelerator, CUDAAccelerator)

    def setup_environment(self) -> None:
        if not self._on_cpu():
            return super().setup_environment()
        DDPStrategy.setup_environment(self)  # Lightning's GPU check skipped; the rest as DDP

    def setup_distributed(self) -> None:
        if not self._on_cpu():
            return super().setup_distributed()
        reset_seed()  # as Lightning's, without the check that CPU device indices match local ranks
        self.set_world_ranks()
        self._init_deepspeed_distributed()

    @property
    def root_device(self) -> torch.device:
        device = super().root_device
        # DeepSpeed's engine takes the device index as the process's local rank.
        return torch.device("cpu", self.local_rank) if device.type == "cpu" else device
