"""One benchmark run in its own process (so its peak memory is its own): `python -m bench.runs SYSTEM ...`.

Systems: `lit` (this project's `fit`, as `python -m lit fit` runs it), `hf` (transformers.Trainer +
peft), `trl` (TRL's SFTTrainer + peft), `generate` (this project's batched generation against
transformers' batched `generate` and a one-prompt-at-a-time loop) and `peak` (the machine's matmul
peak and the config's model FLOPs per token, `bench/flops.py`). All read the same YAML config, so model,
tokenized data, batch size,
LoRA settings and optimizer are the same; precision and threads come from the command line.

Timing: the clock starts after `warmup` optimizer steps and stops after `steps` more; tokens are
the real (non-pad) tokens of those steps' batches, counted on the host (no device sync per step).
`vs_hf.py` runs this script; run it alone to debug one system.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from bench.common import ROOT, build_datamodule, cpu_seconds, load_config, peak_memory, sync
from bench.flops import matmul_peak, model_work, peak_shapes, training_flops_per_token
from modules.generation import returned_lengths


def data_digest(items: list[dict]) -> str:
    """Fingerprint of the tokenized training set, in any order, to check that every system trains on the same
    data."""
    digest = hashlib.sha256()
    for item in sorted(json.dumps([item["input_ids"], item["labels"]]) for item in items):
        digest.update(item.encode())
    return digest.hexdigest()[:16]


def examples_of(batch: dict) -> list[list[int]]:
    """A batch's examples as token lists: each row's real tokens (padding and its side left out), or for a
    padding-free row (no mask; positions restarting at each example, TRL's) each example in it."""
    ids = batch["input_ids"].cpu()
    if "attention_mask" in batch:
        return [row[mask.bool()].tolist() for row, mask in zip(ids, batch["attention_mask"].cpu())]
    starts = (batch["position_ids"].cpu()[0] == 0).nonzero().flatten().tolist() + [ids.shape[1]]
    return [ids[0, a:b].tolist() for a, b in zip(starts, starts[1:])]


def window_digest(batches: list[dict]) -> str:
    """Fingerprint of the batches a timed window trained on, in order, as examples (`examples_of`), so
    lit's and a baseline's windows compare equal exactly when they held the same examples in the same
    batches, padded or not."""
    digest = hashlib.sha256()
    for batch in batches:
        digest.update(json.dumps(examples_of(batch)).encode())
    return digest.hexdigest()[:16]


def lit_batch_order(items: list[dict], batch_size: int, seed: int) -> list[int]:
    """The example indices of lit's first training epoch, in order (`LengthGroupedSampler`, one process):
    a baseline given its examples in this order, sequentially, trains on exactly lit's batches."""
    from datamodules.length_grouped import LengthGroupedSampler

    sampler = LengthGroupedSampler([len(item["input_ids"]) for item in items], batch_size, seed=seed)
    return [index for batch in sampler.batches() for index in batch]


class Window:
    """Wall time and real tokens between the end of optimizer step `warmup` and of step `warmup + steps`.

    Also the process's CPU time over the window: CPU seconds per wall second well below the thread
    count means other processes took the cores (the figure is then not this system's speed).
    """

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps = warmup, steps
        self.start = self.seconds = self.cpu_start = self.cpu = None
        self.tokens = 0
        self.positions = 0  # padded positions (batch x length) in the window
        self.digest = None  # `window_digest` of its batches

    def step_end(self, step: int, device: torch.device) -> bool:
        """Call after optimizer step `step` (1-based); True once the window is complete."""
        if step == self.warmup:
            sync(device)
            self.start, self.cpu_start = time.perf_counter(), cpu_seconds()
        elif step == self.warmup + self.steps:
            sync(device)
            self.seconds, self.cpu = time.perf_counter() - self.start, cpu_seconds() - self.cpu_start
        return self.seconds is not None

    def result(self) -> dict:
        return {
            "seconds": self.seconds,
            "tokens": self.tokens,
            "padded_positions": self.positions,
            "tokens_per_s": self.tokens / self.seconds,
            "real_token_fraction": self.tokens / self.positions,
            "cpu_per_wall_s": self.cpu / self.seconds,
        }


class LitStepTimer(Callback):
    """Added to `lit fit` with `--trainer.callbacks+=bench.runs.LitStepTimer`; writes its window to `out`."""

    def __init__(self, warmup: int = 3, steps: int = 30, out: str = "lit.json"):
        self.window = Window(warmup, steps)
        self.out = out
        self.extra = {}

    def on_train_start(self, trainer, pl_module):
        self.extra["data_digest"] = data_digest(trainer.datamodule.datasets["train"])
        self.extra["attn_implementation"] = pl_module.model.config._attn_implementation
        self.batches = []  # the window's batches, fingerprinted once it ends (no host sync per step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        window = self.window
        if window.start is not None and window.seconds is None:  # a step inside the window
            window.tokens += batch["attention_mask"].sum()  # stays a device tensor until the end
            window.positions += batch["attention_mask"].numel()
            self.batches.append({"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]})
        if window.step_end(trainer.global_step, pl_module.device) and "loss" not in self.extra:
            window.tokens = int(window.tokens)
            self.extra["loss"] = float(outputs["loss"])
            self.extra["window_digest"] = window_digest(self.batches)
            Path(self.out).write_text(json.dumps({**window.result(), **self.extra}))
            trainer.should_stop = True


# ------------------------------------------------------------------ this project
def run_lit(options) -> None:
    from lit.cli import cli_main

    args = [
        "fit",
        "--config",
        options.config,
        "--trainer.max_steps",
        str(options.warmup + options.steps + 1),
        "--trainer.limit_val_batches",
        "0",
        "--validate_before_fit",
        "false",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
        "--trainer.enable_checkpointing",
        "false",
        "--trainer.callbacks",
        "[]",
        "--trainer.precision",
        options.precision,
        "--trainer.accelerator",
        options.device,
        "--trainer.default_root_dir",
        options.workdir,
        # The baseline's clipping (the Trainer's default max norm 1.0), so both do the same work.
        "--trainer.gradient_clip_val",
        str(options.clip),
        "--trainer.callbacks+=bench.runs.LitStepTimer",
        "--trainer.callbacks.warmup",
        str(options.warmup),
        "--trainer.callbacks.steps",
        str(options.steps),
        "--trainer.callbacks.out",
        options.out,
        *options.lit_args,
    ]
    cli = cli_main(args)
    result = json.loads(Path(options.out).read_text())
    if options.save_adapter:  # the trained adapter, for the generation benchmark
        keep = {n for n, p in cli.model.named_parameters() if p.requires_grad}
        state = {k: v for k, v in cli.model.state_dict().items() if k in keep}
        torch.save({"state_dict": state, "adapter_only": True}, options.save_adapter)
    result.update(peak_memory(cli.model.device))
    Path(options.out).write_text(json.dumps(result))


# ------------------------------------------------------------------ Hugging Face baselines
class CountingCollator:
    """Wraps a collator: counts each batch's real tokens and positions on the host, in batch order."""

    def __init__(self, collate):
        self.collate = collate
        self.tokens: list[int] = []
        self.positions: list[int] = []
        self.batches: list[dict] = []  # for `window_digest`

    def __call__(self, features):
        batch = self.collate(features)
        # A padding-free batch (TRL's) has no mask: one row of examples end to end, every position real.
        mask = batch.get("attention_mask", torch.ones_like(batch["input_ids"]))
        self.tokens.append(int(mask.sum()))
        self.positions.append(mask.numel())
        self.batches.append(
            {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids") if k in batch}
        )
        return batch


def trainer_callback(window: Window, counter: CountingCollator, device: torch.device):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if window.step_end(state.global_step, device):
                # Batches are collated in step order (the loader may run one ahead): steps
                # warmup+1..warmup+steps.
                batches = slice(window.warmup, window.warmup + window.steps)
                window.tokens = sum(counter.tokens[batches])
                window.positions = sum(counter.positions[batches])
                window.digest = window_digest(counter.batches[batches])
                control.should_training_stop = True

    return StepTimer()


def baseline_parts(options, config: dict):
    """Model, LoRA config, training items and arguments shared by the HF and TRL baselines."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from modules.model_source import resolve_model_source
    from modules.peft_config import LoraArgs, peft_lora_config

    model_args = config["model"]["init_args"]
    path = resolve_model_source(model_args["model"])
    peft_config = peft_lora_config(LoraArgs(**model_args["lora"]))  # the adapter lit trains
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)  # transformers' default attention
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"  # training pads on the right, as lit does
    items = build_datamodule(config).datasets["train"]
    optimizer_args = model_args.get("optimizer", {}).get("init_args", {})
    training = dict(
        output_dir=options.workdir,
        per_device_train_batch_size=config["data"]["init_args"]["batch_size"],
        max_steps=options.warmup + options.steps + 1,
        learning_rate=optimizer_args.get("lr", 1e-3),
        weight_decay=optimizer_args.get("weight_decay", 0.0),
        optim="adamw_torch",
        lr_scheduler_type="constant",
        seed=config.get("seed_everything", 0),
        report_to=[],
        save_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=options.device == "cpu",
        bf16=options.precision.startswith("bf16"),
        fp16=options.precision.startswith("16"),
        max_grad_norm=options.clip,
        # `lit`: lit's own batches in lit's order, read in sequence (the timed windows hold the same work);
        # `group_by_length`: the Trainer's own length grouping (other batches); `random`: its default.
        train_sampling_strategy="sequential" if options.sampling == "lit" else options.sampling,
    )
    if options.sampling == "lit":
        seed = config.get("seed_everything", 0)
        items = [items[i] for i in lit_batch_order(items, training["per_device_train_batch_size"], seed)]
    return model, peft_config, tokenizer, items, training


def run_hf(options) -> None:
    from peft import get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    config = load_config(options.config)
    model, peft_config, tokenizer, items, training = baseline_parts(options, config)
    model = get_peft_model(model, peft_config)
    dataset = [{"input_ids": i["input_ids"], "labels": i["labels"]} for i in items]
    # Pads to the longest in the batch, labels with -100: the usual collator for prompt-masked data.
    collator = CountingCollator(DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100))
    device = torch.device("cuda" if options.device == "cuda" else "cpu")
    window = Window(options.warmup, options.steps)
    trainer = Trainer(
        model=model,
        args=TrainingArguments(**training),
        train_dataset=dataset,
        data_collator=collator,
        callbacks=[trainer_callback(window, collator, device)],
    )
    trainer.train()
    write_baseline_result(options, trainer, model, window, items, device)


def write_baseline_result(
    options, trainer, model, window: Window, items: list[dict], device: torch.device
) -> None:
    """The timed window, data fingerprint, attention kernel, final loss and peak memory of a Trainer run."""
    result = {
        **window.result(),
        "data_digest": data_digest(items),
        "window_digest": window.digest,
        "attn_implementation": model.config._attn_implementation,
        "loss": trainer.state.log_history[-1].get("train_loss"),
        **peak_memory(device),
    }
    Path(options.out).write_text(json.dumps(result))


# TRL's SFTTrainer settings (trl is a benchmark-only extra, never a dependency): `padded`, its defaults on
# prompt-masked data; `padding_free`, each batch flattened into one row without padding (the same examples
# a step as lit: lit's batches in lit's order); `packing`, its fastest documented setting, best-fit-decreasing
# packing into rows of `max_length` (padding-free too) with one row a step, `max_length` set to lit's mean
# tokens a batch so a step trains about as many tokens as lit's.
TRL_MODES = ("padded", "padding_free", "packing")


def run_trl(options) -> None:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    config = load_config(options.config)
    model, peft_config, tokenizer, items, training = baseline_parts(options, config)
    # Pre-tokenized: TRL skips its own tokenization and masks the loss to `completion_mask`.
    dataset = Dataset.from_list(
        [
            {"input_ids": i["input_ids"], "completion_mask": [int(label != -100) for label in i["labels"]]}
            for i in items
        ]
    )
    mode = {"max_length": None}
    if options.trl_mode == "padding_free":
        mode = {"padding_free": True, "max_length": None}
    elif options.trl_mode == "packing":
        batch = training["per_device_train_batch_size"]
        tokens_a_batch = sum(len(i["input_ids"]) for i in items) * batch // len(items)
        mode = {"packing": True, "packing_strategy": "bfd", "max_length": tokens_a_batch}
        training = {**training, "per_device_train_batch_size": 1}
    # SFTConfig defaults gradient checkpointing and bf16 on; off here, as for the others.
    args = SFTConfig(**training, gradient_checkpointing=False, completion_only_loss=True, **mode)
    device = torch.device("cuda" if options.device == "cuda" else "cpu")
    window = Window(options.warmup, options.steps)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config
    )
    counter = trainer.data_collator = CountingCollator(trainer.data_collator)
    trainer.add_callback(trainer_callback(window, counter, device))
    trainer.train()
    write_baseline_result(options, trainer, model, window, items, device)


# ------------------------------------------------------------------ evaluation: batched generation
def transformers_search(num_beams: int) -> dict:
    """`generate` arguments for the search lit runs (`modules/generation.py`): greedy, or beam search that
    stops once `num_beams` sequences have finished (`early_stopping=True`), at transformers' default
    length penalty (1.0, as lit's)."""
    return {"do_sample": False, "num_beams": num_beams, **({"early_stopping": True} if num_beams > 1 else {})}


def text_differences(texts: dict[str, list[str]], items: list[dict]) -> list[dict]:
    """The prompts where the kinds' texts (one list per kind, in prompt order) are not all equal."""
    return [
        {"prompt_index": i, "prompt": items[i].get("prompt", ""), **dict(zip(texts, row))}
        for i, row in enumerate(zip(*texts.values()))
        if len(set(row)) > 1
    ]


def run_generate(options) -> None:
    """This project's batched `generate` over the first evaluation set, in evaluation batches, against
    `generate` one prompt at a time; and the variants that show what each generation change brings."""
    from modules.causal_lm import CausalLM
    from modules.peft_config import LoraArgs

    config = load_config(options.config)
    model_args = config["model"]["init_args"]
    model = CausalLM(
        model=model_args["model"],
        lora=LoraArgs(**model_args["lora"]),
        max_new_tokens=model_args.get("max_new_tokens", 48),
        init_weights=options.adapter if options.adapter and Path(options.adapter).is_file() else None,
    )
    model.configure_model()
    device = torch.device("cuda" if options.device == "cuda" else "cpu")
    model.to(device)
    datamodule = build_datamodule(config)
    name = datamodule.task.eval_sets["validate"][0]
    items = datamodule.datasets[name]  # the whole set, as validation generates it
    size = datamodule.eval_batch_size
    tokenizer, eos = model.tokenizer, model.tokenizer.eos_token_id

    def batches(rows: int):
        for start in range(0, len(items), rows):
            batch = datamodule.collate(items[start : start + rows])
            yield batch["prompt_ids"].to(device), batch["prompt_mask"].to(device)

    work = model_work(model.model.config, model_args.get("lora"))

    def flops(mask: torch.Tensor, new: torch.Tensor, beams: int) -> float:
        """Model FLOPs (`bench/flops.py`) of a batch's prompts and their returned tokens (EOS included)."""
        returned = returned_lengths(new, eos).tolist()
        return sum(work.generation_flops(int(p), g, beams) for p, g in zip(mask.sum(1).tolist(), returned))

    def batched(rows: int = size) -> tuple[list[str], int, float]:
        before = model.generated_tokens
        texts, done = [], 0.0
        for ids, mask in batches(rows):
            new = model.generate_ids(ids, mask)  # what `model.generate` decodes
            texts += tokenizer.batch_decode(new, skip_special_tokens=True)
            done += flops(mask, new, model.num_beams)
        return texts, model.generated_tokens - before, done

    beams = int(model_args.get("num_beams", 1))

    def batched_beams() -> tuple[list[str], int, float]:  # the config's beam width, as its validation decodes
        model.num_beams = beams
        try:
            return batched()
        finally:
            model.num_beams = 1

    @torch.no_grad()
    def batched_transformers(
        num_beams: int = 1,
    ) -> tuple[list[str], int, float]:  # rows run to the batch's last EOS
        model.model.eval()
        texts, tokens, done = [], 0, 0.0
        for ids, mask in batches(size):
            new = model.model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=model.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=eos,
                **transformers_search(num_beams),
            )[:, ids.shape[1] :]
            texts += tokenizer.batch_decode(new, skip_special_tokens=True)
            tokens += int(returned_lengths(new, eos).sum())
            done += flops(mask, new, num_beams)
        return texts, tokens, done

    @torch.no_grad()
    def one_at_a_time() -> tuple[list[str], int, float]:
        model.model.eval()
        texts, tokens, done = [], 0, 0.0
        for item in items:
            ids = torch.tensor([item["prompt_ids"]], device=device)
            out = model.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=model.max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=eos,
            )[0, ids.shape[1] :]
            tokens += len(out)  # ends at its EOS (counted), or at max_new_tokens
            texts.append(tokenizer.decode(out, skip_special_tokens=True))
            done += work.generation_flops(ids.shape[1], len(out))
        return texts, tokens, done

    # Each kind against its fair baseline, transformers' batched `generate` on the same batches:
    # greedy (batched vs batched_transformers), and the config's beams (batched_beams vs beams_transformers).
    kinds = {
        "batched": batched,
        "batched_transformers": batched_transformers,
        **(
            {"batched_beams": batched_beams, "beams_transformers": lambda: batched_transformers(beams)}
            if beams > 1
            else {}
        ),
        "one_at_a_time": one_at_a_time,
    }
    if options.kinds:  # a subset, for an A/B of two kinds (`--kinds batched batched_transformers`)
        unknown = sorted(set(options.kinds) - set(kinds))
        if unknown:  # the beam kinds exist only where the config decodes with beams
            raise SystemExit(f"--kinds: {unknown} not among this config's kinds {list(kinds)}")
        kinds = {kind: kinds[kind] for kind in options.kinds}
    torch.manual_seed(0)
    model.generate(*next(batches(2)))  # warm-up
    runs = {kind: [] for kind in kinds}
    texts = {}
    names = list(kinds)
    for repeat in range(options.repeats):  # interleaved, each kind taking each place in the order in turn
        for kind in names[repeat % len(names) :] + names[: repeat % len(names)]:
            function = kinds[kind]
            sync(device)
            start, cpu = time.perf_counter(), cpu_seconds()
            texts[kind], tokens, model_flops = function()
            sync(device)
            seconds = time.perf_counter() - start
            runs[kind].append(
                {
                    "seconds": seconds,
                    "generated_tokens": tokens,
                    "tokens_per_s": tokens / seconds,
                    "prompts_per_s": len(items) / seconds,
                    "cpu_per_wall_s": (cpu_seconds() - cpu) / seconds,
                    "model_flops": model_flops,
                    "model_gflops_per_s": model_flops / seconds / 1e9,
                }
            )
    greedy = {
        kind: texts[kind] for kind in ("batched", "batched_transformers", "one_at_a_time") if kind in texts
    }
    beam_kinds = {kind: texts[kind] for kind in ("batched_beams", "beams_transformers") if kind in texts}
    same = sum(len(set(row)) == 1 for row in zip(*greedy.values()))
    same_beams = (
        sum(len(set(row)) == 1 for row in zip(*beam_kinds.values())) if len(beam_kinds) == 2 else None
    )
    score = getattr(datamodule, "score", None)
    result = {
        "prompts": len(items),
        "eval_set": name,
        "eval_batch_size": size,
        "max_new_tokens": model.max_new_tokens,
        "adapter": options.adapter if model.init_weights else None,
        "runs": runs,
        "same_text_fraction": same / len(items),
        "num_beams": beams,
        "same_text_fraction_beams": None if same_beams is None else same_beams / len(items),
        # Every prompt whose texts differ between kinds of one search, with each kind's text: explained per
        # item.
        "differences": text_differences(greedy, items)
        + (text_differences(beam_kinds, items) if len(beam_kinds) == 2 else []),
        "accuracy": sum(score(t, i["reference"]) for t, i in zip(texts[names[0]], items)) / len(items)
        if score
        else None,
        **peak_memory(device),
    }
    Path(options.out).write_text(json.dumps(result))


# ------------------------------------------------------------------ the hardware's limit
def run_peak(options) -> None:
    """The matmul peak in fp32 and bf16 at these threads (`bench/flops.py`), and the config's model
    FLOPs per training token (the same data for every system)."""

    config = load_config(options.config)
    model_args = config["model"]["init_args"]
    work = model_work(model_args["model"], model_args.get("lora"))
    shapes = peak_shapes(work.hidden, work.intermediate)
    result = {
        "peak": {dtype: matmul_peak(dtype, options.threads, shapes) for dtype in ("fp32", "bf16")},
        "model_work": vars(work),
        "training_flops_per_token": training_flops_per_token(
            work, build_datamodule(config).datasets["train"]
        ),
    }
    Path(options.out).write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("system", choices=["lit", "hf", "trl", "generate", "peak"])
    parser.add_argument("--config", default="configs/embedded/java_instruct.yaml")
    parser.add_argument("--out", required=True, help="JSON result file")
    parser.add_argument("--workdir", default="runs/bench")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2, help="generate: interleaved repeats")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"]
    )
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--save_adapter", help="lit: save the trained adapter here")
    parser.add_argument("--adapter", help="generate: an adapter-only checkpoint to load")
    parser.add_argument(
        "--kinds", nargs="+", help="generate: only these kinds (batched, batched_transformers, ...)"
    )
    parser.add_argument(
        "--clip", type=float, default=1.0, help="gradient clipping max norm, lit and baselines"
    )
    parser.add_argument("--trl_mode", default="padded", choices=TRL_MODES, help="trl: how it batches")
    parser.add_argument(
        "--sampling",
        default="lit",
        choices=["lit", "group_by_length", "random"],
        help="hf/trl: lit's batches in lit's order, or the Trainer's train_sampling_strategy",
    )
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)  # after `--`: extra `lit fit` arguments
    options = parser.parse_args(argv[:split])
    options.lit_args = argv[split + 1 :]
    torch.set_num_threads(options.threads)
    os.chdir(ROOT)  # configs name paths from the repository root
    {"lit": run_lit, "hf": run_hf, "trl": run_trl, "generate": run_generate, "peak": run_peak}[
        options.system
    ](options)


if __name__ == "__main__":
    main()
