"""How much memory an evaluation batch needs, and how many of its rows fit in a budget.

An evaluation batch costs memory twice. Its loss: logits over the vocabulary at every trained
position of every row, upcast to fp32, with their log-softmax beside them (a Java `val` batch of
100 examples has 69 such positions: 100 x 69 x 49,152 x 4 bytes is 1.4 GB per copy). Its
generation: the KV cache, prompts x beams x (prompt + new tokens), which transformers grows by
concatenation (the old and the new copy of a layer coexist) and beam search reorders every step
(a second copy of a layer); and every step's logits over the vocabulary, in fp32, with their
log-softmax and, with beams, the scores over beams x vocabulary. `plan_rows` splits the loss and
the generation into pieces of rows whose estimate stays inside a budget. The estimates are upper
bounds checked against measured peaks (bench/eval_peak_memory.py, docs/reliability.md); a split
changes no text (each prompt's tokens depend on that prompt alone) and no loss (the pieces'
token-weighted mean).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_info

from modules.hardware import precision_dtype

GIB = 2**30
# Measured rises above the resident memory reached 1.6x the sums below (docs/reliability.md: 25 prompts
# x 4 beams from `validate`); the margin covers such allocator slack.
SAFETY = 2.0


def _size(nbytes: int) -> str:
    return f"{nbytes / GIB:.1f} GiB" if nbytes >= GIB // 10 else f"{nbytes / 2**20:.0f} MiB"


def _text_config(config):
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def generation_bytes(
    config, prompts: int, beams: int, prompt_len: int, new_tokens: int, itemsize: int
) -> int:
    """Estimated peak bytes above the resident model for generating `new_tokens` after `prompts`
    left-padded prompts of `prompt_len` tokens with `beams` beams, activations of `itemsize` bytes."""
    c = _text_config(config)
    layers = c.num_hidden_layers
    heads = c.num_attention_heads
    hidden = c.hidden_size
    head_dim = getattr(c, "head_dim", None) or hidden // heads
    kv_heads = getattr(c, "num_key_value_heads", None) or heads
    intermediate = getattr(c, "intermediate_size", None) or 4 * hidden
    seqs = prompts * beams
    tokens = prompt_len + new_tokens
    layer_cache = 2 * kv_heads * head_dim * seqs * tokens * itemsize
    cache = layers * layer_cache + 2 * layer_cache  # + the concatenated and the reordered copy of one layer
    # Per step: fp32 logits (a copy), their log-softmax, and with beams the scores over beams x vocabulary.
    logits = seqs * c.vocab_size * 4 * (4 if beams > 1 else 2)
    # The prompt pass: one layer's activations (attention, MLP) and its attention scores.
    prefill = (
        seqs * prompt_len * (6 * hidden + 3 * intermediate) * itemsize + seqs * heads * prompt_len**2 * 4
    )
    return int(SAFETY * (cache + logits + prefill))


def loss_bytes(config, rows: int, length: int, positions: int, itemsize: int) -> int:
    """Estimated peak bytes above the resident model for the loss of `rows` sequences of `length`
    tokens with logits at `positions` positions (`loss_at_positions`), activations of `itemsize` bytes."""
    c = _text_config(config)
    # The logits in the compute dtype, their fp32 copy (none when they are fp32) and its log-softmax.
    logits = rows * positions * c.vocab_size * (itemsize + 4 + (4 if itemsize < 4 else 0))
    # One layer's activations at a time (no gradient is kept in evaluation).
    layer = (
        rows
        * length
        * (6 * c.hidden_size + 3 * (getattr(c, "intermediate_size", None) or 4 * c.hidden_size))
        * itemsize
    )
    return int(SAFETY * (logits + layer))


def available_bytes(device: torch.device) -> int:
    """Memory free for new tensors now: the GPU's free memory, or the kernel's MemAvailable."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil  # not Linux: the same figure, portably

    return int(psutil.virtual_memory().available)


@dataclass
class RowPlan:
    rows: int  # in the batch
    chunk: int  # rows per call
    estimate: int  # bytes for one call of `chunk` prompts
    budget: int
    available: int

    @property
    def calls(self) -> int:
        return -(-self.rows // self.chunk)

    def describe(self, what: str) -> str:
        split = "one call" if self.calls == 1 else f"{self.calls} calls of up to {self.chunk}"
        budget = f"budget {_size(self.budget)} of {_size(self.available)} available"
        return f"{what}: {split}, ~{_size(self.estimate)} each ({budget})"


def plan_rows(
    rows: int,
    bytes_for: Callable[[int], int],
    device: torch.device,
    budget_gib: float | None = None,
    budget_fraction: float = 0.5,
) -> RowPlan:
    """The largest number of rows per call whose estimate `bytes_for(rows)` fits the budget: `budget_gib`,
    or `budget_fraction` of the memory available now (the training state is already resident)."""
    available = available_bytes(device)
    budget = int(budget_gib * GIB) if budget_gib is not None else int(budget_fraction * available)
    fits, low, high = 1, 1, rows  # the largest count that fits (at least one row: never refuse)
    while low <= high:
        middle = (low + high) // 2
        if bytes_for(middle) <= budget:
            fits, low = middle, middle + 1
        else:
            high = middle - 1
    calls = -(-rows // fits)
    chunk = -(-rows // calls)  # even calls: 100 rows that fit 40 at a time run as 34 + 33 + 33
    return RowPlan(rows, chunk, bytes_for(chunk), budget, available)


class EvalPlanner:
    """Plans each evaluation batch's loss and generation within the budget, and says each plan once
    (per kind, batch size and split: the figures said are those of the first such batch)."""

    def __init__(self) -> None:
        self.said: set[tuple] = set()

    def plan(
        self,
        what: str,
        rows: int,
        bytes_for: Callable[[int], int],
        device: torch.device,
        budget_gib: float | None,
    ) -> RowPlan:
        plan = plan_rows(rows, bytes_for, device, budget_gib)
        key = (what.split(" of ")[0], plan.rows, plan.chunk)
        if key not in self.said:
            self.said.add(key)
            rank_zero_info(f"lit: {plan.describe(what)}")
        return plan

    def generation(
        self,
        config,
        prompt_ids: torch.Tensor,
        beams: int,
        new_tokens: int,
        itemsize: int,
        budget_gib: float | None,
    ) -> RowPlan:
        rows, length = prompt_ids.shape
        what = f"generation of {rows} prompts x {beams} beam(s) x up to {length + new_tokens} tokens"
        return self.plan(
            what,
            rows,
            lambda n: generation_bytes(config, n, beams, length, new_tokens, itemsize),
            prompt_ids.device,
            budget_gib,
        )

    def loss(
        self, config, labels: torch.Tensor, positions: int, itemsize: int, budget_gib: float | None
    ) -> RowPlan:
        rows, length = labels.shape
        what = f"loss of {rows} sequences x {length} tokens"
        return self.plan(
            what,
            rows,
            lambda n: loss_bytes(config, n, length, positions, itemsize),
            labels.device,
            budget_gib,
        )


def activation_itemsize(model, precision: str | None) -> int:
    """Bytes per activation: 2 under bf16/fp16 compute (the Trainer's `precision`), else the weights' own."""
    if precision is not None and precision_dtype(precision) in (torch.bfloat16, torch.float16):
        return 2
    return model.get_input_embeddings().weight.element_size()
