"""A KV cache that writes each new token into a preallocated buffer instead of concatenating.

`transformers`' `DynamicCache` grows each layer's keys and values with `torch.cat`, which copies
the whole cache at every generated token: at batch 50 on the Java task that copying was 7% of
generation time on CPU (profiled, `aten::cat`). Here each layer holds a buffer sized for the prompt
plus the new tokens and hands attention a view of its filled part; nothing is copied per token.
Measured no faster end to end on CPU (docs/benchmarks.md: attention over the views and the fresh
buffers cost about what the copies did), so it is an option (`CausalLM(preallocated_kv_cache=True)`),
off by default.
"""

from __future__ import annotations

from typing import Optional

import torch
from transformers.cache_utils import Cache, DynamicLayer


class PreallocatedLayer(DynamicLayer):
    """One layer's keys and values in buffers of `capacity` positions (doubled if ever exceeded)."""

    is_croppable = False

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity, self.length = capacity, 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.device = key_states.device
        self.key_buffer = self._empty(key_states, self.capacity)
        self.value_buffer = self._empty(value_states, self.capacity)
        self.is_initialized = True

    @staticmethod
    def _empty(states: torch.Tensor, capacity: int) -> torch.Tensor:
        batch, heads, _, dim = states.shape
        return states.new_empty(batch, heads, capacity, dim)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.capacity:  # longer than planned: grow once, amortised
            self.capacity = max(end, 2 * self.capacity)
            for name in ("key_buffer", "value_buffer"):
                old = getattr(self, name)
                new = self._empty(old, self.capacity)
                new[:, :, : self.length] = old[:, :, : self.length]
                setattr(self, name, new)
        self.key_buffer[:, :, self.length : end] = key_states
        self.value_buffer[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self.key_buffer[:, :, :end], self.value_buffer[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep only these batch rows (the filled positions are copied once)."""
        if not self.is_initialized:
            return
        for name in ("key_buffer", "value_buffer"):
            old = getattr(self, name)
            new = old.new_empty(len(indices), *old.shape[1:])
            new[:, :, : self.length] = old[indices, :, : self.length]
            setattr(self, name, new)
        self.keys, self.values = self.key_buffer[:, :, : self.length], self.value_buffer[:, :, : self.length]

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("PreallocatedLayer serves greedy_generate only")

    def batch_repeat_interleave(self, repeats: int) -> None:
        raise NotImplementedError("PreallocatedLayer serves greedy_generate only")

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        raise NotImplementedError("PreallocatedLayer serves greedy_generate only")


def preallocated_cache(config, capacity: int) -> Optional[Cache]:
    """A cache of `PreallocatedLayer`s for a model whose layers all attend to every position.

    None for sliding-window or hybrid models (Mistral v0.1's 4,096-token window, Gemma's local
    layers): those keep `transformers`' own cache, which knows their layouts.
    """
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    if getattr(config, "sliding_window", None) or getattr(config, "attention_chunk_size", None):
        return None
    if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or ()):
        return None
    return Cache(layer_class_to_replicate=lambda: PreallocatedLayer(capacity))
