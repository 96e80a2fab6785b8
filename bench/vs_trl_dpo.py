"""DPO training speed of `lit` against TRL's DPOTrainer on the same pairs, model, LoRA and batch size.

    python -m bench.vs_trl_dpo --steps 20 --repeats 2 --precision bf16-mixed \
        --out bench/records/vs_trl_dpo_bf16-mixed.json

Each run is its own process (`--child`), the two systems taking turns, `--repeats` times: `lit fit` with
`configs/embedded/dpo.yaml`'s model, LoRA and batch size, from a fresh adapter (the reference is the model
with the adapter disabled in both) and without 4-bit (TRL's CPU path has none to compare), against
`trl.DPOTrainer` with the same `peft` LoRA settings, beta, learning rate, `max_length` and precision. The
pairs are the sums task's training prompts, each answer against another prompt's (conversational, so both
render through the model's chat template). Each system draws its own batch order. Timed: the optimizer
steps after `--warmup`, from the start of a step to its end; reported: pairs per second (batch size / the
median step) and peak memory. Writes `--out` (JSON); no doc states its figures yet.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, commit, peak_memory
from modules.hardware import cpu_description

CONFIG = "configs/embedded/dpo.yaml"


def write_pairs(path: Path, model: str, count: int) -> None:
    """Sums prompts with their answer as chosen and the next prompt's answer as rejected."""
    from datamodules.sums import SumsDataModule

    examples = SumsDataModule(tokenizer=model, num_examples=count + 1, addends="tens").generate_examples(
        "train"
    )
    with open(path, "w", encoding="utf-8") as f:
        for example, other in zip(examples, examples[1:]):
            if other["completion"] == example["completion"]:
                continue
            record = {
                "prompt": [{"role": "user", "content": example["prompt"]}],
                "chosen": [{"role": "assistant", "content": example["completion"]}],
                "rejected": [{"role": "assistant", "content": other["completion"]}],
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def settings(config: str) -> dict:
    import yaml

    data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    init = data["model"]["init_args"]
    return {
        "lora": init["lora"],
        "beta": init["preference"]["beta"],
        "lr": init["optimizer"]["init_args"]["lr"],
        "batch_size": data["data"]["init_args"]["batch_size"],
        "max_length": data["data"]["init_args"]["max_length"],
    }


class Steps:
    """Wall time of each optimizer step (the same window in both systems: a step's start to its end)."""

    def __init__(self):
        self.times, self.start = [], None

    def begin(self) -> None:
        self.start = time.perf_counter()

    def end(self) -> None:
        self.times.append(time.perf_counter() - self.start)


def run_lit(options, pairs: Path, steps: Steps, folder: str) -> None:
    import lightning as L

    from lit.cli import cli_main

    class Timer(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            steps.begin()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            steps.end()

    args = ["--config", options.config, "--model.init_args.model", options.model]
    args += ["--model.init_args.init_weights", "null", "--model.init_args.quantization", "null"]
    args += ["--data.init_args.train_file", str(pairs), "--data.init_args.task", "null"]
    args += ["--trainer.max_steps", str(options.warmup + options.steps), "--trainer.max_epochs", "-1"]
    args += ["--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0"]
    args += ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    args += ["--trainer.precision", options.precision, "--trainer.default_root_dir", folder]
    cli = cli_main(args, run=False)
    cli.trainer.callbacks.append(Timer())
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)


def run_trl(options, pairs: Path, steps: Steps, folder: str) -> None:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from modules.model_source import resolve_model_source
    from modules.peft_config import LoraArgs, peft_lora_config

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            steps.begin()

        def on_step_end(self, args, state, control, **kwargs):
            steps.end()

    s, path = settings(options.config), resolve_model_source(options.model)
    peft_config = peft_lora_config(LoraArgs(**s["lora"]))  # the adapter lit trains
    records = [json.loads(line) for line in pairs.read_text(encoding="utf-8").splitlines()]
    args = DPOConfig(
        output_dir=folder,
        per_device_train_batch_size=s["batch_size"],
        max_steps=options.warmup + options.steps,
        learning_rate=s["lr"],
        beta=s["beta"],
        max_length=s["max_length"],
        bf16=options.precision == "bf16-mixed",
        use_cpu=not torch.cuda.is_available(),
        report_to=[],
        save_strategy="no",
        logging_steps=10**6,
        seed=0,
    )
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32),
        args=args,
        train_dataset=Dataset.from_list(records),
        processing_class=AutoTokenizer.from_pretrained(path),
        peft_config=peft_config,
        callbacks=[Timer()],
    )
    trainer.train()


def child(options) -> None:
    import torch

    torch.set_num_threads(options.threads)
    steps = Steps()
    with tempfile.TemporaryDirectory() as folder:
        (run_lit if options.child == "lit" else run_trl)(options, Path(options.pairs), steps, folder)
    timed = steps.times[options.warmup :]
    result = {
        "step_s": timed,
        "pairs_per_s": settings(options.config)["batch_size"] / statistics.median(timed),
        **peak_memory(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
    }
    Path(options.result).write_text(json.dumps(result), encoding="utf-8")


def measure(system: str, options, pairs: Path, folder: Path) -> dict:
    result = folder / f"{system}.json"
    command = [sys.executable, "-m", "bench.vs_trl_dpo", "--child", system, "--pairs", str(pairs)]
    command += ["--result", str(result), "--model", options.model, "--config", options.config]
    command += ["--steps", str(options.steps), "--warmup", str(options.warmup)]
    command += ["--precision", options.precision, "--threads", str(options.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(options.threads), "WANDB_MODE": "disabled"}
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return json.loads(result.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(prog="python -m bench.vs_trl_dpo", description=__doc__)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--config", default=CONFIG, help="the LoRA, beta, lr, batch size and max_length")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", default="bf16-mixed", choices=["32-true", "bf16-mixed"])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", default=None, help="the record (JSON)")
    parser.add_argument("--child", choices=["lit", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--pairs", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        child(options)
        return None
    runs = {"lit": [], "trl": []}
    with tempfile.TemporaryDirectory() as folder:
        pairs = Path(folder) / "pairs.jsonl"
        count = settings(options.config)["batch_size"] * (options.warmup + options.steps)
        write_pairs(pairs, options.model, count)
        for _ in range(options.repeats):
            for system in runs:  # taking turns: a slow patch of the machine hits both
                runs[system].append(measure(system, options, pairs, Path(folder)))
    summary = {s: statistics.median(r["pairs_per_s"] for r in rs) for s, rs in runs.items()}
    record = {
        "command": "python -m bench.vs_trl_dpo " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": commit(),
        "cpu": cpu_description(),
        "model": options.model,
        "precision": options.precision,
        "threads": options.threads,
        "settings": settings(options.config),
        "runs": runs,
        "pairs_per_s": summary,
        "lit_over_trl": summary["lit"] / summary["trl"],
    }
    print(
        f"lit: DPO pairs/s, median of {options.repeats}: lit {summary['lit']:.3g}, TRL {summary['trl']:.3g}"
    )
    if options.out:
        Path(options.out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


if __name__ == "__main__":
    main()
