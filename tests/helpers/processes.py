"""Runs of `python -m lit` (or a script) in fresh processes, as multi-process tests need them: Lightning's
launcher starts the other processes by running the same command again."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

# What a launched rank, or an earlier run in this process, leaves behind: with them a new launch would take
# itself for a rank, or meet its peers at another run's address (Lightning's SLURMEnvironment writes
# MASTER_ADDR and MASTER_PORT into os.environ when asked for them, as tests/test_distributed.py does).
LAUNCH_VARIABLES = ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT")


def lit_env() -> dict:
    """The environment of a launched run: this checkout first on the path, one thread per process (2-core
    machines), no tracker, and none of `LAUNCH_VARIABLES`."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARIABLES}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", WANDB_MODE="disabled")
    return env


def run_command(command: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    """`python COMMAND` from the repository root; on a timeout every process it started is stopped (a rank
    left waiting for its peers would otherwise live on), and the failure shows the end of its output."""
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        env=lit_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"stopped after {timeout} s: {' '.join(command)}\n{stderr[-3000:]}") from None
    assert process.returncode == 0, stderr[-3000:]
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


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


def strategy_runs(folder: Path, strategy: str, modes: list[str], precision: str) -> dict:
    """Every stage of `tests/helpers/strategy_runs.py` for `strategy` and `modes` in `precision`, in one
    2-process launch (the launch is most of the cost), and the results it wrote."""
    command = [
        "tests/helpers/strategy_runs.py",
        str(folder),
        strategy,
        *modes,
        "--",
        "--trainer.precision",
        precision,
    ]
    run_command(command, timeout=900)
    return json.loads((Path(folder) / "results.json").read_text(encoding="utf-8"))
