"""What the benchmarks share: reading a config and its data as `lit fit` does, timing and memory
helpers, and what a record names about the code that measured it.

Run every benchmark from the repository root as a module: `python -m bench.vs_hf`, `python -m bench.tables`.
"""

from __future__ import annotations

import importlib
import resource
import subprocess
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
# The code a measurement runs: a change here, uncommitted, makes the commit alone not name it.
CODE = ["lit", "modules", "datamodules", "bench", "configs"]


def commit() -> str | None:
    """The short commit of HEAD, with `+changes` when the code under it had uncommitted changes."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    if not head:
        return None
    # The records are what measurements write, not code: one written earlier in a chain does not count.
    paths = [*CODE, ":(exclude)bench/records"]
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *paths], capture_output=True, text=True, cwd=ROOT
    ).stdout
    return head + ("+changes" if dirty.strip() else "")


def load_config(path: str) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text())


def model_as_fit(config: str, precision: str):
    """A config's CLI (not run), its model loaded as `lit fit` loads it (the Trainer's precision decides the
    dtypes) and its data set up for fit: (cli, module, datamodule)."""
    from lit.cli import cli_main

    args = ["--config", config, "--trainer.precision", precision, "--trainer.logger", "false"]
    cli = cli_main(args, run=False)
    module, data = cli.model, cli.datamodule
    module.trainer = cli.trainer
    module.configure_model()
    data.setup("fit")
    return cli, module, data


def build_datamodule(config: dict):
    """The config's data module, set up for fit: the tokenized examples every system trains on."""
    data = config["data"]
    module, name = data["class_path"].rsplit(".", 1)
    datamodule = getattr(importlib.import_module(module), name)(
        tokenizer=config["model"]["init_args"]["model"], **data.get("init_args", {})
    )
    datamodule.setup("fit")
    return datamodule


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> dict:
    """Peak RSS of this process (ru_maxrss is KiB on Linux), and peak CUDA allocation on a GPU."""
    memory = {"peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    if device.type == "cuda":
        memory["peak_cuda_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return memory


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
