"""lit's Trainer: precision that follows the hardware, and runs that survive interruption."""

from __future__ import annotations

import lightning as L
from lightning.fabric.plugins import TorchCheckpointIO

from lit.fault_tolerance import AtomicCheckpointIO, LastCheckpoint, RngState, SaveOnInterrupt
from lit.loggers import WandbLogger
from modules.hardware import resolve_precision


class Trainer(L.Trainer):
    def __init__(self, *args, precision: str | int | None = "auto", **kwargs):
        """Lightning's Trainer with `precision: auto`, atomic checkpoint files loaded with
        `weights_only=True`, a checkpoint on SIGTERM/Ctrl-C, the RNG state in checkpoints, a
        `last.ckpt` that is the last state (`LastCheckpoint`), and W&B runs in the run's folder.

        Args:
            precision: "auto" is bf16-mixed where the device computes bf16 natively (recent GPUs, CPUs
                with AVX512-BF16/AMX) and 32-true elsewhere: on AVX2-only CPUs bf16 was measured 25x
                slower. Any Lightning precision ("32-true", "bf16-mixed", "16-mixed", ...) is passed on.

        `lit.loggers.WandbLogger` without a `save_dir` (the command line's default logger) writes into
        `default_root_dir`, grouped by its folder name (runs/embedded_sums -> group embedded_sums).
        """
        accelerator = kwargs.get("accelerator")
        callbacks = kwargs.get("callbacks") or []
        callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
        for always in (SaveOnInterrupt, RngState, LastCheckpoint):
            if not any(isinstance(c, always) for c in callbacks):
                callbacks.append(always())
        kwargs["callbacks"] = callbacks
        super().__init__(*args, precision=resolve_precision(precision, accelerator), **kwargs)
        for logger in self.loggers:  # lit's W&B logger (the CLI's default) writes into this run's folder
            if isinstance(logger, WandbLogger):
                logger.in_run_folder(self.default_root_dir)
        # Lightning's default writer only: a config's own CheckpointIO, or a strategy's (XLA), stays.
        if type(self.strategy.checkpoint_io) is TorchCheckpointIO:
            self.strategy.checkpoint_io = AtomicCheckpointIO()
