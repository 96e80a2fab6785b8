"""Runs of `python -m lit` (or a script) in fresh processes, as multi-process tests need them: Lightning's
launcher starts the other processes by running the same command again."""

import csv
import os
import subprocess
import sys

from tests.helpers import ROOT


def lit_env() -> dict:
    """The environment of a launched run: this checkout first on the path, one thread per process (2-core
    machines), no tracker, and none of the variables that would make it think it is a launched rank itself."""
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE")}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", WANDB_MODE="disabled")
    return env


def run_command(command: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *command], cwd=ROOT, env=lit_env(), capture_output=True, text=True,
                            timeout=timeout)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_lit(args: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m lit ...` in a fresh process."""
    return run_command(["-m", "lit", *args], timeout)


def last_metrics(log_dir) -> dict:
    """The last value of every metric a CSVLogger wrote under `log_dir`."""
    [path] = list(log_dir.rglob("metrics.csv"))
    merged = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            merged.update({k: float(v) for k, v in row.items() if v})
    return merged


def csv_logger(path) -> list[str]:
    return ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", str(path)]
