"""torch.compile on CPU for lit's training step: does it pay once it compiles only once?

    python -m bench.compile_step --precision bf16-mixed --out bench/records/compile_step_bf16-mixed.json

A compiled graph is specialised to its input shapes; lit's batches are as wide as their longest row (and the
LM head runs on the trained positions only, a count that changes every batch), so an unbounded compile
recompiles for almost every step. Bounded here: every batch is padded to one width (the config's longest
example rounded up to a multiple of 32) and the LM head runs on every position, so the model has one shape
and compiles once. Three systems train the same batches (the config's first training batches, in lit's
order), each from the same adapter weights, in one process:

- `eager`: lit's step as `lit fit` runs it (batches as wide as their longest row, logits where trained);
- `eager_fixed`: the same step on the fixed-width batches (what the bound costs without compiling);
- `compiled`: `torch.compile(model)` (inductor, `dynamic=False`) on the fixed-width batches.

The record holds each system's first step (the compile, for `compiled`), its steady real tokens/s, how
many graphs dynamo compiled and how many graph breaks it took. The config's model is loaded as `lit fit`
loads it (the Trainer's precision, its autocast).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from bench.common import commit, model_as_fit
from modules.hardware import cpu_description
from modules.loss import IGNORE_INDEX


def fixed_width(batch: dict, width: int, pad_token_id: int) -> dict:
    """The batch padded on the right to `width` columns, logits on every position (one shape per batch)."""
    extra = width - batch["input_ids"].shape[1]
    pad = torch.nn.functional.pad
    return {
        "input_ids": pad(batch["input_ids"], (0, extra), value=pad_token_id),
        "labels": pad(batch["labels"], (0, extra), value=IGNORE_INDEX),
        "attention_mask": pad(batch["attention_mask"], (0, extra), value=0),
        "pads_right": True,
    }


def train_steps(module, batches: list[dict], optimizer, context) -> list[float]:
    """Seconds of each training step (forward, backward, optimizer step) over `batches`."""
    seconds = []
    for batch in batches:
        start = time.perf_counter()
        with context():
            loss = module._loss(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="configs/embedded/java_instruct.yaml")
    parser.add_argument("--precision", default="bf16-mixed")
    parser.add_argument(
        "--warmup", type=int, default=2, help="steps before the timed ones (compile included)"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per system")
    parser.add_argument(
        "--multiple", type=int, default=32, help="the fixed width: longest rounded up to this"
    )
    parser.add_argument("--out", default=None, help="JSON record of the measurement")
    options = parser.parse_args(argv)
    cli, module, data = model_as_fit(options.config, options.precision)
    module.train()
    loader = iter(data.train_dataloader())
    batches = [next(loader) for _ in range(options.warmup + options.steps)]
    longest = max(len(item["input_ids"]) for item in data.datasets["train"])
    width = -(-longest // options.multiple) * options.multiple
    pad_token_id = module.tokenizer.pad_token_id
    bounded = [fixed_width(batch, width, pad_token_id) for batch in batches]
    trainable = [p for p in module.parameters() if p.requires_grad]
    start_weights = [p.detach().clone() for p in trainable]
    context = cli.trainer.precision_plugin.forward_context
    eager_model = module.model

    def run(name: str, model, steps_batches: list[dict], trained_logits_only: bool) -> dict:
        with torch.no_grad():
            for p, w in zip(trainable, start_weights):
                p.copy_(w)
        module.model, module.trained_logits_only = model, trained_logits_only
        optimizer = torch.optim.AdamW(trainable, lr=1e-4)
        if name == "compiled":
            torch._dynamo.reset()
        seconds = train_steps(module, steps_batches, optimizer, context)
        timed = seconds[options.warmup :]
        tokens = sum(int(b["attention_mask"].sum()) for b in steps_batches[options.warmup :])
        positions = sum(b["input_ids"].numel() for b in steps_batches[options.warmup :])
        result = {
            "first_step_s": round(seconds[0], 2),
            "warmup_s": round(sum(seconds[: options.warmup]), 2),
            "timed_s": round(sum(timed), 2),
            "real_tokens": tokens,
            "positions": positions,
            "tokens_per_s": round(tokens / sum(timed), 1),
        }
        print(f"{name}: {result}", flush=True)
        return result

    results = {"eager": run("eager", eager_model, batches, True)}
    results["eager_fixed"] = run("eager_fixed", eager_model, bounded, False)
    from torch._dynamo.utils import counters

    counters.clear()
    compiled = torch.compile(eager_model, dynamic=False)
    results["compiled"] = run("compiled", compiled, bounded, False)
    results["compiled"]["graphs"] = int(counters["stats"]["unique_graphs"])
    results["compiled"]["graph_breaks"] = int(sum(counters["graph_break"].values()))
    module.model = eager_model
    record = {
        "command": "python -m bench.compile_step " + " ".join(argv if argv is not None else []),
        "commit": commit(),
        "cpu": cpu_description(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "config": options.config,
        "precision": options.precision,
        "batch_size": data.batch_size,
        "width": width,
        "warmup": options.warmup,
        "steps": options.steps,
        "systems": results,
        "compiled_vs_eager": round(results["compiled"]["tokens_per_s"] / results["eager"]["tokens_per_s"], 2),
        "compiled_vs_eager_fixed": round(
            results["compiled"]["tokens_per_s"] / results["eager_fixed"]["tokens_per_s"], 2
        ),
    }
    if options.out:
        Path(options.out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: record[k] for k in ("compiled_vs_eager", "compiled_vs_eager_fixed", "width")}))
    return record


if __name__ == "__main__":
    main(sys.argv[1:])
