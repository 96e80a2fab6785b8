"""Stopping a run on a non-finite loss or weights, with the last good checkpoint kept.

`step` reads the loss every step, before the update (free on CPU, where the value is already on
the host); `log` keeps a flag on the device and reads it at logging steps and before every
checkpoint write (on a GPU a per-step read is a sync that stalls the queue); `auto` picks by device.
Either way a checkpoint is never written with non-finite weights.
"""

from __future__ import annotations

import torch

from modules.errors import NonFiniteLossError, UserInputError


class NonFiniteGuard:
    """The checks `CausalLM` runs in training steps and before checkpoint writes.

    Args:
        mode: "auto", "step" or "log" (see the module's docstring).
    """

    def __init__(self, mode: str = "auto"):
        if mode not in ("auto", "step", "log"):
            raise UserInputError(f"finite_check must be auto, step or log, not {mode!r}")
        self.mode = mode
        self.flag: torch.Tensor | None = None  # "log": (first bad step or -1, step counter), on the device

    def every_step(self, module) -> bool:
        if self.mode == "auto":
            return module._trainer is None or module.trainer.strategy.root_device.type == "cpu"
        return self.mode == "step"

    def check_loss(self, module, loss: torch.Tensor, batch_idx: int) -> None:
        """In a training step, before backward."""
        if self.every_step(module):
            if not torch.isfinite(loss):
                where = f"step {module.global_step} (epoch {module.current_epoch}, batch {batch_idx})"
                self.stop(
                    module,
                    f"train/loss is {loss.item()} at {where}: stopped before this step updated any weight",
                )
            return
        # Device ops only: one copy to the device when the flag is made, none after.
        if self.flag is None or self.flag.device != loss.device:
            self.flag = torch.tensor([-1, module.global_step], device=loss.device)
        first, seen = self.flag[0], self.flag[1]
        first.copy_(torch.where(~torch.isfinite(loss.detach()) & (first < 0), seen, first))
        seen.add_(1)

    def check_noted(self, module) -> None:
        """At logging steps, the end of training and before checkpoint writes ("log" mode's read)."""
        if self.flag is None:
            return
        first = int(self.flag[0])
        if first >= 0:
            self.stop(
                module,
                f"train/loss was not finite at step {first} (found at step {module.global_step}: "
                "finite_check log reads it at logging steps); the weights since then are not saved",
            )

    def check_weights(self, module, trainable: set[str]) -> None:
        """Before a checkpoint write: never overwrite a good checkpoint with NaNs."""
        self.check_noted(module)
        bad = [k for k in sorted(trainable) if not torch.isfinite(module.get_parameter(k)).all()]
        if bad:
            self.stop(
                module,
                f"{len(bad)} trained weight(s) are not finite at step {module.global_step} "
                f"(e.g. {bad[0]}): this checkpoint is not written",
            )

    @staticmethod
    def stop(module, what: str) -> None:
        io = getattr(module.trainer.strategy, "checkpoint_io", None)
        latest = getattr(io, "last_saved", None) or module.trainer.ckpt_path
        kept = (
            f"the last checkpoint written, {latest}, is kept"
            if latest
            else "no checkpoint had been written yet"
        )
        raise NonFiniteLossError(
            f"{what}; {kept}. Usual causes: a learning rate too high, fp16 overflow (try precision "
            "bf16-mixed or 32-true), or a bad batch"
        )
