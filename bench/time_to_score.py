"""Time to a trusted score: minutes from start to a held-out score, training and evaluation together.

    python -m bench.time_to_score java   # configs/embedded/java_instruct.yaml to val/accuracy >= 0.95
    python -m bench.time_to_score sums   # configs/embedded/sums.yaml (held-out targets) to val/exact >= 0.9
    python -m bench.time_to_score java --limit_minutes 45 -- --trainer.val_check_interval 75

The clock starts when this script starts (imports, model loading, tokenizing and the pre-flight
included: what `lit fit` costs a user) and stops at the end of the first validation, during
`fit`, whose metric reaches the target; training stops there. `val` is held out: the Java task's
`val` uses only words never seen in training, and the sums config holds every sixth target out
(`held_out_every: 6`), so `val` asks for sums never trained on. Every validation is recorded
(step, minutes, the metrics), so a run that never reaches the target shows its curve; the JSON
(rewritten after each validation) names the machine; `--limit_minutes` gives up at the first
validation past the limit. Arguments after `--` go to `lit fit`, after the task's own (`TASKS`).
`bench/vs_hf.py --time_to_score java sums` runs this script as part of the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

START = time.time()  # before the heavy imports: they are part of what a user waits for

ROOT = Path(__file__).resolve().parents[1]

from lightning.pytorch.callbacks import Callback  # noqa: E402 (after START: the import is part of the wait)

# "extra": `lit fit` arguments of the measurement. Java: the config scores the untrained model first
# (validate_before_fit, for its report) and once at the end; a time to a score needs neither the
# first nor to wait for the last, so it validates every 125 steps (a third of the run), and generates
# only for `val`, the set the target is on, until the last validation scores every set.
JAVA_OTHER_SETS = {"val_seen": 3, "val_phrasing": 3, "val_messages": 3}
TASKS = {
    "java": {
        "config": "configs/embedded/java_instruct.yaml",
        "monitor": "val/accuracy",
        "target": 0.95,
        "mode": "max",
        "extra": [
            "--validate_before_fit",
            "false",
            "--trainer.val_check_interval",
            "125",
            "--model.init_args.score_every",
            json.dumps(JAVA_OTHER_SETS),
        ],
    },
    "sums": {
        "config": "configs/embedded/sums.yaml",
        "monitor": "val/exact",
        "target": 0.9,
        "mode": "max",
        "extra": [],
    },  # the config's val: targets never trained on
}


class ScoreClock(Callback):
    """Records every validation during `fit` and stops training at the first that reaches the target.

    Args:
        monitor: the metric (`val/accuracy`, `val/exact`, ...).
        target: the value to reach.
        mode: "max" (reach means >= target) or "min" (<= target).
        start: the clock's start, seconds since the epoch (`time.time()`).
        out: JSON file, rewritten after each validation.
        header: what the JSON says about the run (task, config, machine).
        limit_minutes: give up at the first validation this long after the start (None: train to the end).
    """

    def __init__(
        self,
        monitor: str,
        target: float,
        mode: str = "max",
        start: float = 0.0,
        out: str = "time_to_score.json",
        header: dict | None = None,
        limit_minutes: float | None = None,
    ):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.monitor, self.target, self.mode, self.start, self.out = monitor, target, mode, start, out
        self.limit_minutes = limit_minutes
        self.record = {
            **(header or {}),
            "monitor": monitor,
            "target": target,
            "mode": mode,
            "reached": False,
            "minutes_to_target": None,
            "limit_minutes": limit_minutes,
            "gave_up": False,
            "evaluation_minutes": 0.0,  # every validation, the sanity check included: its share is a goal
            "validations": [],
        }

    def _reached(self, value: float) -> bool:
        return value >= self.target if self.mode == "max" else value <= self.target

    def on_fit_start(self, trainer, pl_module) -> None:
        self.record["precision"] = str(trainer.precision)  # what `auto` resolved to on this CPU

    def on_validation_start(self, trainer, pl_module) -> None:
        self._validation_start = time.time()

    def _count_evaluation(self, minutes: float) -> None:
        self.record["evaluation_minutes"] += (time.time() - self._validation_start) / 60
        self.record["evaluation_share"] = round(self.record["evaluation_minutes"] / max(minutes, 1e-9), 3)

    def on_validation_end(self, trainer, pl_module) -> None:
        if self.record["reached"]:
            return
        minutes = (time.time() - self.start) / 60
        self._count_evaluation(minutes)
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val")}
        fitting = (
            trainer.state.fn == "fit"
        )  # validate_before_fit's scoring of the untrained model comes first
        self.record["validations"].append(
            {"step": trainer.global_step, "minutes": round(minutes, 2), "during_fit": fitting, **metrics}
        )
        value = metrics.get(self.monitor)
        if fitting and value is not None and self._reached(value):
            self.record.update(reached=True, minutes_to_target=round(minutes, 2), step=trainer.global_step)
            trainer.should_stop = True
        elif fitting and self.limit_minutes is not None and minutes >= self.limit_minutes:
            self.record["gave_up"] = True  # not reached within the limit: the curve so far is the result
            trainer.should_stop = True
        self.write()

    def on_fit_end(self, trainer, pl_module) -> None:
        self.record["minutes_total"] = round((time.time() - self.start) / 60, 2)
        self.record["steps"] = trainer.global_step
        self.write()

    def write(self) -> None:
        Path(self.out).parent.mkdir(parents=True, exist_ok=True)
        Path(self.out).write_text(json.dumps(self.record, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> dict:
    import torch

    from bench.common import commit
    from lit.cli import cli_main
    from modules.hardware import cpu_description

    argv = sys.argv[1:] if argv is None else list(argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("task", choices=list(TASKS))
    parser.add_argument("--config", help="another config for the task (the tests use a tiny one)")
    parser.add_argument("--monitor", help="the task's held-out metric by default")
    parser.add_argument(
        "--target", type=float, help="the task's target by default (0.95 Java accuracy, 0.9 sums exact)"
    )
    parser.add_argument("--mode", choices=["max", "min"])
    parser.add_argument("--precision", help="--trainer.precision (the config's `auto` by default)")
    parser.add_argument("--out", help="JSON result (default runs/time_to_score/TASK.json)")
    parser.add_argument("--workdir", help="the run's directory (default: a temporary one)")
    parser.add_argument(
        "--limit_minutes", type=float, help="give up at the first validation after this many minutes"
    )
    options = parser.parse_args(argv[:split])
    task = TASKS[options.task]
    config = options.config or task["config"]
    monitor, target = (
        options.monitor or task["monitor"],
        task["target"] if options.target is None else options.target,
    )
    out = options.out or f"runs/time_to_score/{options.task}.json"
    cpuinfo = Path("/proc/cpuinfo")
    names = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.is_file() else [])
        if line.startswith("model name")
    ]
    header = {
        "command": "python -m bench.time_to_score " + " ".join(argv),
        "commit": commit(),
        "task": options.task,
        "config": config,
        "machine": f"{names[0] if names else platform.processor()}, {os.cpu_count()} cores",
        "cpu": cpu_description(),
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "fit_args": task["extra"] + argv[split + 1 :],
    }
    with tempfile.TemporaryDirectory(prefix="time_to_score_") as folder:
        root = options.workdir or folder
        args = [
            "fit",
            "--config",
            config,
            "--trainer.default_root_dir",
            root,
            "--trainer.logger",
            "lightning.pytorch.loggers.CSVLogger",
            "--trainer.logger.save_dir",
            root,
            "--trainer.callbacks+=bench.time_to_score.ScoreClock",
            "--trainer.callbacks.monitor",
            monitor,
            "--trainer.callbacks.target",
            str(target),
            "--trainer.callbacks.mode",
            options.mode or task["mode"],
            "--trainer.callbacks.start",
            repr(START),
            "--trainer.callbacks.out",
            out,
            "--trainer.callbacks.header",
            json.dumps(header),
            *(
                []
                if options.limit_minutes is None
                else ["--trainer.callbacks.limit_minutes", str(options.limit_minutes)]
            ),
            *(["--trainer.precision", options.precision] if options.precision else []),
            *task["extra"],
            *argv[split + 1 :],
        ]
        cli_main(args)
    record = json.loads(Path(out).read_text(encoding="utf-8"))
    reached = (
        f"{record['minutes_to_target']} min (step {record.get('step')})"
        if record["reached"]
        else (
            f"not reached, gave up at the limit of {record['limit_minutes']} min"
            if record["gave_up"]
            else "not reached"
        )
    )
    values = [v[monitor] for v in record["validations"] if v.get("during_fit") and monitor in v]
    best = (max if record["mode"] == "max" else min)(values) if values else None
    print(
        f"time to {monitor} {'>=' if record['mode'] == 'max' else '<='} {target}: {reached}; "
        f"{len(values)} validations during fit, best {best}; {record.get('minutes_total')} min in all; "
        f"{record['machine']}, {record['cpu']}"
    )
    return record


if __name__ == "__main__":
    main()
