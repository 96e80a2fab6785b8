"""How much memory a generation batch needs, and how many prompts fit in a budget.

Generation memory grows with prompts x beams x (prompt + new tokens): the KV cache, which
transformers grows by concatenation (the old and the new copy of a layer coexist) and which beam
search reorders every step (a second copy of a layer), and the logits over the vocabulary of
every sequence at every step, in fp32, with their log-softmax and their beam scores beside them.
An evaluation batch sized for speed (100 prompts x 4 beams on the Java task) can need several GiB
beside the training state; `plan_generation` splits it so the estimate stays inside a budget.
The estimate is an upper bound fitted to measured peaks (bench/eval_memory.py, README: evaluation
memory); the split changes no text: each prompt's tokens depend on that prompt alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

GIB = 2**30


def _size(nbytes: int) -> str:
    return f"{nbytes / GIB:.1f} GiB" if nbytes >= GIB // 10 else f"{nbytes / 2**20:.0f} MiB"
# Measured peak over the estimate's sum below stayed under 1 (bench/eval_memory.py); the margin
# covers allocator slack (freed blocks the allocator keeps, fragmentation after training).
SAFETY = 2.0


def _text_config(config):
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def generation_bytes(config, prompts: int, beams: int, prompt_len: int, new_tokens: int, itemsize: int) -> int:
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
    prefill = seqs * prompt_len * (6 * hidden + 3 * intermediate) * itemsize + seqs * heads * prompt_len**2 * 4
    return int(SAFETY * (cache + logits + prefill))


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
class GenerationPlan:
    prompts: int  # in the batch
    chunk: int  # prompts per generation call
    estimate: int  # bytes for one call of `chunk` prompts
    budget: int
    available: int

    @property
    def calls(self) -> int:
        return -(-self.prompts // self.chunk)

    def describe(self, beams: int, tokens: int) -> str:
        split = "one call" if self.calls == 1 else f"{self.calls} calls of up to {self.chunk} prompts"
        return (
            f"generation of {self.prompts} prompts x {beams} beam(s) x up to {tokens} tokens: {split}, "
            f"~{_size(self.estimate)} each (budget {_size(self.budget)} of {_size(self.available)} available)"
        )


def plan_generation(
    config, prompts: int, beams: int, prompt_len: int, new_tokens: int, itemsize: int,
    device: torch.device, budget_gib: Optional[float] = None, budget_fraction: float = 0.5,
) -> GenerationPlan:  # fmt: skip
    """The largest number of prompts per generation call whose estimate fits the budget: `budget_gib`,
    or `budget_fraction` of the memory available now (the training state is already resident)."""
    available = available_bytes(device)
    budget = int(budget_gib * GIB) if budget_gib is not None else int(budget_fraction * available)
    fits, low, high = 1, 1, prompts  # the largest count that fits (at least one prompt: never refuse)
    while low <= high:
        middle = (low + high) // 2
        if generation_bytes(config, middle, beams, prompt_len, new_tokens, itemsize) <= budget:
            fits, low = middle, middle + 1
        else:
            high = middle - 1
    calls = -(-prompts // fits)
    chunk = -(-prompts // calls)  # even calls: 100 prompts that fit 40 at a time run as 34 + 33 + 33
    estimate = generation_bytes(config, chunk, beams, prompt_len, new_tokens, itemsize)
    return GenerationPlan(prompts, chunk, estimate, budget, available)
