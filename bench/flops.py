"""The hardware's limit and the model's work: the machine's matmul peak, and model FLOPs per token.

    python -m bench.flops --threads 2                      # the matmul peak, fp32 and bf16
    python -m bench.flops --config configs/embedded/java_instruct.yaml   # and the config's FLOPs per token

Fraction of peak = model FLOPs per second / the matmul peak in the compute dtype, at the same
threads. Model FLOPs are the work the result needs, whichever way a system computes it (as MFU
counts): real tokens only (no padding), no recomputation, the LM head where the loss needs it.

Training, per example of L tokens of which T carry loss, with frozen base weights N (the linear
layers' weights, LM head apart), LoRA weights n (r x (in + out) per adapted layer), attention
width W (heads x head dim) over `layers` layers, hidden size h and vocabulary V:
- frozen linears: 2NL forward + 2NL backward (gradients for the inputs only: the weights are frozen);
- LoRA: 2nL forward + 4nL backward (inputs and weights);
- attention (causal): 4W x L(L+1)/2 per layer forward (QK^T and AV), twice that backward;
- LM head: 2hV x T forward + 2hV x T backward (inputs only), at the T trained positions.
Full fine-tuning (no LoRA) counts 2NL + 4NL for the linears, as weights train.
Generation, forward only: the prompt pass (2(N + n) per prompt token, causal attention over the
prompt, 2hV for its last position's logits), then one step per later token at context c:
2(N + n) + 4W x c per layer + 2hV. Beam search credits every beam's step up to the returned
sequence's end (beams x steps), not the steps beams ran past it, nor a prompt pass per beam.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bench.common import build_datamodule, load_config

ROOT = Path(__file__).resolve().parents[1]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def compute_dtype(precision: str) -> str:
    """The dtype of the matmuls a Lightning precision runs: bf16 under bf16 precisions, else fp32."""
    return "bf16" if precision.startswith("bf16") else "fp32"


def matmul_peak(
    dtype: str, threads: int, shapes: list[tuple[int, int, int]], seconds: float = 1.0, windows: int = 5
) -> dict:
    """GFLOP/s of `torch.mm` in `dtype` on `threads` threads, per (m, k, n) shape: the best of
    `windows` timed windows of about `seconds / windows` each (the best: a busy core only slows a
    window down). The peak is the best shape's."""
    torch.set_num_threads(threads)
    by_shape = {}
    for m, k, n in shapes:
        a = torch.randn(m, k).to(DTYPES[dtype])
        b = torch.randn(k, n).to(DTYPES[dtype])
        torch.mm(a, b)  # warm-up: packing, thread pool
        best, begin = 0.0, time.perf_counter()
        for _ in range(windows):
            if (
                best and time.perf_counter() - begin > seconds
            ):  # slow kernels (bf16 without native support): fewer windows
                break
            reps, start = 0, time.perf_counter()
            while reps == 0 or time.perf_counter() - start < seconds / windows:
                torch.mm(a, b)
                reps += 1
            best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9)
        by_shape[f"{m}x{k}x{n}"] = round(best, 2)
    return {"gflops": max(by_shape.values()), "by_shape": by_shape, "threads": threads}


def peak_shapes(
    hidden: int | None = None, intermediate: int | None = None, tokens: int = 512
) -> list[tuple[int, int, int]]:
    """A square matmul and, given the model's sizes, one shaped like its MLP on a batch of tokens
    (what a training step multiplies; the peak is the faster of the two)."""
    shapes = [(1024, 1024, 1024)]
    if hidden and intermediate:
        shapes.append((tokens, hidden, intermediate))
    return shapes


@dataclass
class ModelWork:
    """What a token costs in a model: see the module docstring for the formulas."""

    frozen: int  # weights of the linear layers inside the decoder (the LM head apart)
    lora: int  # r x (in + out) summed over the adapted linear layers; 0 without LoRA
    trains_base: bool  # full fine-tuning: the linears' weights get gradients too
    layers: int
    attention_width: int  # heads x head dim (queries; keys and values may have fewer heads)
    hidden: int
    vocab: int
    intermediate: int | None = None

    def training_flops(self, length: int, trained: int) -> float:
        """Model FLOPs of one training example of `length` tokens with `trained` tokens carrying loss."""
        linear = (6 if self.trains_base else 4) * self.frozen * length
        lora = 6 * self.lora * length
        attention = 3 * 4 * self.attention_width * self.layers * length * (length + 1) / 2
        head = 4 * self.hidden * self.vocab * trained
        return linear + lora + attention + head

    def generation_flops(self, prompt: int, generated: int, beams: int = 1) -> float:
        """Model FLOPs of a prompt of `prompt` tokens and its `generated` returned tokens: the prompt
        pass (its last position's logits give the first token), then a step per later token, each
        credited for `beams` beams; the attention at each token's own context."""
        per_token, attention = 2 * (self.frozen + self.lora), 4 * self.attention_width * self.layers
        logits = 2 * self.hidden * self.vocab
        prompt_pass = per_token * prompt + attention * prompt * (prompt + 1) / 2 + logits
        steps = max(generated - 1, 0)  # the last token (EOS or the limit's) is not fed back
        contexts = (
            steps * prompt + steps * (steps + 1) / 2
        )  # each step attends to the prompt and the tokens so far
        return prompt_pass + beams * (per_token * steps + attention * contexts + logits * steps)


def _linear_shape(module) -> tuple[int, int] | None:
    """(in, out) of a linear layer: torch's Linear or GPT-2's Conv1D (weight stored transposed)."""
    if isinstance(module, torch.nn.Linear):
        return module.in_features, module.out_features
    if type(module).__name__ == "Conv1D":
        return module.weight.shape[0], module.weight.shape[1]
    return None


def model_work(config, lora: dict | None = None) -> ModelWork:
    """`ModelWork` of a transformers config (or a model directory) with LoRA settings as our
    configs write them (`r`, `target_modules`: "all-linear" or module names); None: full fine-tuning.
    The model is built on the meta device: shapes only, no weights, no memory."""
    from transformers import AutoConfig, AutoModelForCausalLM

    if isinstance(config, (str, Path)):
        from modules.model_source import resolve_model_source

        config = AutoConfig.from_pretrained(resolve_model_source(str(config)))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    head = model.get_output_embeddings()
    targets = None if lora is None else lora.get("target_modules", "all-linear")
    frozen = adapted = 0
    for name, module in model.named_modules():
        shape = _linear_shape(module)
        if shape is None or module is head:
            continue
        frozen += shape[0] * shape[1]
        leaf = name.rsplit(".", 1)[-1]
        if targets == "all-linear" or (isinstance(targets, (list, tuple)) and leaf in targets):
            adapted += lora["r"] * (shape[0] + shape[1])
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    return ModelWork(
        frozen=frozen,
        lora=adapted,
        trains_base=lora is None,
        layers=text.num_hidden_layers,
        attention_width=heads * head_dim,
        hidden=text.hidden_size,
        vocab=text.vocab_size,
        intermediate=getattr(text, "intermediate_size", None)
        or getattr(text, "n_inner", None)
        or 4 * text.hidden_size,
    )


def training_flops_per_token(work: ModelWork, items: list[dict]) -> float:
    """Mean model FLOPs per real token of a training set (tokenized items with `input_ids`, `labels`)."""
    tokens = sum(len(item["input_ids"]) for item in items)
    # A label at position t > 0 is predicted from position t - 1: the LM head runs there.
    flops = sum(
        work.training_flops(len(item["input_ids"]), sum(label != -100 for label in item["labels"][1:]))
        for item in items
    )
    return flops / tokens


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    parser.add_argument("--seconds", type=float, default=2.0, help="per shape and dtype")
    parser.add_argument("--config", help="also the model FLOPs per training token of this config's data")
    parser.add_argument("--out", help="JSON file")
    options = parser.parse_args(argv)
    result: dict = {}
    shapes = peak_shapes()
    if options.config:
        config = load_config(options.config)
        work = model_work(config["model"]["init_args"]["model"], config["model"]["init_args"].get("lora"))
        items = build_datamodule(config).datasets["train"]
        result["model_work"] = asdict(work)
        result["training_flops_per_token"] = training_flops_per_token(work, items)
        shapes = peak_shapes(work.hidden, work.intermediate)
    result["peak"] = {
        dtype: matmul_peak(dtype, options.threads, shapes, options.seconds) for dtype in options.dtypes
    }
    print(json.dumps(result, indent=1))
    if options.out:
        Path(options.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
