"""Weights & Biases logging that never prompts, with a local copy of the metrics for `lit report`."""

from __future__ import annotations

import json
import netrc
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

Mode = Literal["auto", "online", "offline", "disabled"]


def wandb_credentials_found() -> bool:
    """True when wandb would log in without asking: WANDB_API_KEY, or a netrc entry for its host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_wandb_mode(mode: Mode) -> str:
    """The `mode` for `wandb.init`: the one asked for, else WANDB_MODE's, else by credentials."""
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_MODE"):  # passed explicitly: wandb reads its environment only once per process
        return {"dryrun": "offline", "run": "online"}.get(os.environ["WANDB_MODE"], os.environ["WANDB_MODE"])
    return "online" if wandb_credentials_found() else "offline"


class WandbLogger(LightningWandbLogger):
    """Lightning's `WandbLogger` that works out of the box on any machine.

    - `mode: auto` (default): online when W&B credentials are found, whatever `WANDB_MODE` says when
      it is set, and otherwise offline, with one line saying how to `wandb sync` the run later,
      instead of a login prompt or a failure.
    - Every logged metric is also appended to `metrics.jsonl` in the run directory
      (`save_dir/project/run id/`, where the checkpoints go too), so `python -m lit report` works
      without W&B and after a crash.
    - `log_model: true` (at the end) or `"all"` (every checkpoint) logs checkpoints as artifacts,
      also offline: they upload with `wandb sync`.

    - Without `save_dir`, the run goes into the Trainer's `default_root_dir`, and without `group` it
      is grouped by that folder's name (runs/embedded_sums -> embedded_sums): lit's Trainer fills
      both in (`in_run_folder`), so a config names its folder once.

    Args:
        mode: "auto", "online", "offline" or "disabled" (W&B off, the local metrics copy stays).
        project: the W&B project.
        save_dir: where runs go; None: the Trainer's `default_root_dir`.
        group: the W&B group; None: the name of the folder runs go into.
        **kwargs: see Lightning's `WandbLogger` (`name`, `log_model`, `tags`, ...).
    """

    def __init__(
        self,
        mode: Mode = "auto",
        project: str = "lit",
        save_dir: str | None = None,
        group: str | None = None,
        **kwargs: Any,
    ):
        if kwargs.pop("offline", False):
            mode = "offline"
        self.wandb_mode = kwargs["mode"] = resolve_wandb_mode(mode)
        self._folder_given = save_dir is not None
        super().__init__(project=project, save_dir=save_dir or ".", group=group, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)  # wandb warns about the setting even when unset
        self._announced = False

    def in_run_folder(self, root: str) -> None:
        """Before the run starts: runs go into `root` unless `save_dir` was given, grouped by the name
        of the folder they go into unless `group` was."""
        if self._experiment is not None:
            return
        if not self._folder_given:
            self._save_dir = self._wandb_init["dir"] = str(root)
        if self._wandb_init.get("group") is None:
            self._wandb_init["group"] = Path(self._save_dir).resolve().name

    @property
    def experiment(self):
        run = super().experiment
        if not self._announced and rank_zero_only.rank == 0 and run is not None:
            self._announced = True
            if self.wandb_mode == "offline":
                rank_zero_info(
                    "lit: W&B is offline (no credentials found and WANDB_MODE unset); "
                    f"upload the run later with: wandb sync {Path(run.dir).parent}"
                )
        return run

    @property
    def run_dir(self) -> Path:
        """Where this run's checkpoints, metrics.jsonl, config.yaml and generations go."""
        return Path(self.save_dir or ".") / str(self.name) / str(self.version)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        numbers = {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) or getattr(v, "ndim", 1) == 0
        }
        if numbers:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": step, "time": time.time(), **numbers}) + "\n")
