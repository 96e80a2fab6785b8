"""Peak memory of a held-out evaluation, by generation batch and beam width.

Runs `configs/embedded/java_instruct.yaml` (or `--config`) for `--steps` training steps, then one
validation of the first held-out set's first generation batch, as `lit fit` runs it, and prints the resident
memory before the validation and its peak during it (VmHWM, reset when the validation starts):

    python -m bench.eval_peak_memory --precision 32-true --eval_batch_size 100 --num_beams 4 --steps 4
    python -m bench.eval_peak_memory ... --out runs/eval_memory.jsonl   # one JSON line appended per run

`--steps 0` measures `lit validate`'s case (no training before the evaluation).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import lightning as L

from lit.cli import cli_main
from modules.hardware import cpu_description


def _status(field: str) -> int:
    """A /proc/self/status memory field in bytes (VmRSS: now, VmHWM: peak since the last reset)."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", text).group(1)) * 1024


class EvalPeak(L.Callback):
    """The resident memory when each validation starts and its peak until it ends."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_validation_start(self, trainer, pl_module) -> None:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self._start = (_status("VmRSS"), time.perf_counter())

    def on_validation_end(self, trainer, pl_module) -> None:
        rss, start = self._start
        gib = 2**30
        self.rows.append(
            {
                "step": trainer.global_step,
                "rss_before_gib": round(rss / gib, 2),
                "peak_gib": round(_status("VmHWM") / gib, 2),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="configs/embedded/java_instruct.yaml")
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--eval_batch_size", type=int, default=100)
    parser.add_argument("--num_beams", type=int, default=4)
    parser.add_argument(
        "--steps", type=int, default=4, help="training steps before the validation (0: validate only)"
    )
    parser.add_argument("--out", default=None, help="append the result as one JSON line")
    parser.add_argument("extra", nargs="*", help="more `lit` arguments, after --")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eval_memory_") as root:
        args = [
            "--config",
            options.config,
            "--trainer.precision",
            options.precision,
            "--trainer.max_steps",
            str(max(options.steps, 1)),
            "--trainer.val_check_interval",
            str(max(options.steps, 1)),
            "--trainer.limit_val_batches",
            "1",
            "--trainer.num_sanity_val_steps",
            "0",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger",
            "false",
            "--trainer.enable_checkpointing",
            "false",
            "--trainer.callbacks",
            "[]",
            "--trainer.default_root_dir",
            root,
            "--data.init_args.eval_batch_size",
            str(options.eval_batch_size),
            "--model.init_args.num_beams",
            str(options.num_beams),
            "--model.init_args.log_generations",
            "0",
            *options.extra,
        ]
        cli = cli_main(args, run=False)
        sets = cli.datamodule.val_dataloader
        cli.datamodule.val_dataloader = lambda: sets()[0]  # the first held-out set: one generation batch
        peak = EvalPeak()
        cli.trainer.callbacks.append(peak)
        if options.steps:
            cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        else:
            cli.trainer.validate(cli.model, datamodule=cli.datamodule)
    result = {
        "precision": options.precision,
        "eval_batch_size": options.eval_batch_size,
        "num_beams": options.num_beams,
        "steps": options.steps,
        "cpu": cpu_description(),
        "extra": options.extra,
        "validations": peak.rows,
    }
    print(json.dumps(result))
    if options.out:
        Path(options.out).parent.mkdir(parents=True, exist_ok=True)
        with open(options.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(result) + "\n")
    return result


if __name__ == "__main__":
    main()
