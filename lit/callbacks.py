"""Callbacks the configs use."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import BasePredictionWriter, Callback
from lightning.pytorch.utilities import rank_zero_info

from modules.hardware import device_description


class JsonlPredictionWriter(BasePredictionWriter):
    """Writes `predict` results as JSONL: prompt, completion, reference and score.

    Args:
        path: output file; with several processes each rank writes `path` with a `.rankN` suffix.
    """

    def __init__(self, path: str = "predictions.jsonl"):
        super().__init__(write_interval="epoch")
        self.path = path

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        out = Path(self.path)
        if trainer.world_size > 1:
            out = out.with_name(f"{out.name}.rank{trainer.global_rank}")
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            for rows in predictions:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"lit: wrote {sum(len(r) for r in predictions)} predictions to {out}")


def peak_memory_gib(device: torch.device) -> float:
    """Peak memory so far: CUDA max allocated on a GPU, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


class TokenThroughput(Callback):
    """Logs `train/tokens_per_s` (real tokens, padding excluded; time in validation left out) and
    `train/peak_memory_gib`, and prints one summary line at the end of fit, validate and test
    (task metrics, wall time, tokens/s).

    Tokens are summed on the device and read back once per logging interval, so the training
    loop gets no extra host sync per step.

    Args:
        log_every_n_steps: how often to log the rate; None follows the Trainer's setting.
    """

    def __init__(self, log_every_n_steps: int | None = None):
        self.log_every_n_steps = log_every_n_steps

    def on_fit_start(self, trainer, pl_module):
        self._tokens = torch.zeros((), dtype=torch.long, device=pl_module.device)
        self._start = self._window_start = time.perf_counter()
        self._total_tokens = 0
        self._eval_seconds = self._window_eval_seconds = 0.0

    def on_validation_start(self, trainer, pl_module):
        self._eval_start = time.perf_counter()
        self._eval_tokens_start = getattr(pl_module, "generated_tokens", 0)

    def on_validation_end(self, trainer, pl_module):
        seconds = time.perf_counter() - self._eval_start
        if trainer.state.fn == "fit" and hasattr(self, "_start"):
            self._eval_seconds += seconds
            self._window_eval_seconds += seconds
        elif trainer.state.fn == "validate":
            self._eval_summary("validate", trainer, pl_module, seconds, prefix="val")

    def on_test_start(self, trainer, pl_module):
        self.on_validation_start(trainer, pl_module)

    def on_test_end(self, trainer, pl_module):
        self._eval_summary("test", trainer, pl_module, time.perf_counter() - self._eval_start, prefix="test")

    def _eval_summary(self, what: str, trainer, pl_module, seconds: float, prefix: str) -> None:
        generated = getattr(pl_module, "generated_tokens", 0) - self._eval_tokens_start
        speed = (
            f", {generated} generated tokens, {generated / max(seconds, 1e-9):.0f} tokens/s"
            if generated
            else ""
        )
        rank_zero_info(
            f"lit: {what} finished in {seconds:.1f} s{speed} "
            f"({device_description(trainer.strategy.root_device)})" + _metrics_text(trainer, prefix)
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._tokens += batch["attention_mask"].sum()
        every = self.log_every_n_steps or trainer.log_every_n_steps
        if (batch_idx + 1) % every == 0:
            tokens = int(self._tokens.item())
            self._tokens.zero_()
            now = time.perf_counter()
            self._total_tokens += tokens
            train_seconds = now - self._window_start - self._window_eval_seconds
            pl_module.log("train/tokens_per_s", tokens / max(train_seconds, 1e-9))
            pl_module.log("train/peak_memory_gib", peak_memory_gib(pl_module.device))
            self._window_start, self._window_eval_seconds = now, 0.0

    def on_fit_end(self, trainer, pl_module):
        self._total_tokens += int(self._tokens.item())
        seconds = time.perf_counter() - self._start
        train_seconds = seconds - self._eval_seconds
        share = self._eval_seconds / max(seconds, 1e-9)  # what evaluating cost the run (issue 33's budget)
        rank_zero_info(
            f"lit: fit finished in {seconds / 60:.1f} min ({train_seconds / 60:.1f} training, "
            f"{self._eval_seconds / 60:.1f} evaluation: {share:.0%}): "
            f"{self._total_tokens} training tokens, {self._total_tokens / max(train_seconds, 1e-9):.0f} "
            "tokens/s, "
            f"peak memory {peak_memory_gib(pl_module.device):.2f} GiB "
            f"({device_description(trainer.strategy.root_device)})" + _metrics_text(trainer, "val", "last ")
        )


def _metrics_text(trainer, prefix: str, label: str = "") -> str:
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(prefix)}
    shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))
    return f"; {label}{shown}" if shown else ""
