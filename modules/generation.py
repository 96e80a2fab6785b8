"""Greedy batched generation that stops computing a sequence once it has ended.

`transformers`' `generate` keeps every row of a batch until the last one ends, feeding pads to
the finished ones: on the Java task, where methods are 10 to 60 tokens, that is about half of
the decoding work of a 50-prompt batch. Here finished rows leave the batch (and the KV cache)
once a quarter of it has ended (the quarter: dropping at every end measured no faster, each drop
copies the cache); the tokens are the same greedy choice per row.
"""

from __future__ import annotations

import inspect
from typing import Callable

import torch
import torch.nn.functional as F


@torch.no_grad()
def greedy_generate(
    model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, max_new_tokens: int, eos_token_id: int, pad_token_id: int
) -> torch.Tensor:
    """New tokens for left-padded prompts: (batch, at most max_new_tokens), EOS included, pads after it.

    Args:
        model: a causal LM (peft-wrapped or not) whose forward takes `position_ids` and a cache.
        prompt_ids: left-padded prompt tokens.
        prompt_mask: their attention mask (0 on the padding).
        max_new_tokens: generation length limit.
        eos_token_id: the token that ends a sequence.
        pad_token_id: what fills a row after its EOS.
    """
    batch = prompt_ids.shape[0]
    device = prompt_ids.device
    out = torch.full((batch, max_new_tokens), pad_token_id, dtype=torch.long, device=device)
    # Positions count real tokens only, as `generate` does for left padding.
    positions = (prompt_mask.long().cumsum(-1) - 1).clamp(min=0)
    # transformers renamed `past_key_values` to `cache` within 5.x; only the last logits are needed.
    parameters = inspect.signature((model.get_base_model() if hasattr(model, "get_base_model") else model).forward).parameters
    cache_name = "cache" if "cache" in parameters else "past_key_values"
    extra = {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}
    step = model(input_ids=prompt_ids, attention_mask=prompt_mask, position_ids=positions, use_cache=True, **extra)
    cache, mask, position = getattr(step, cache_name), prompt_mask, positions[:, -1:]
    rows = torch.arange(batch, device=device)  # the batch row each remaining sequence came from
    ended = torch.zeros(batch, dtype=torch.bool, device=device)
    for i in range(max_new_tokens):
        if i:
            mask = torch.cat([mask, mask.new_ones(len(rows), 1)], dim=1)
            position = position + 1
            step = model(input_ids=tokens[:, None], attention_mask=mask, position_ids=position, use_cache=True,
                         **{cache_name: cache}, **extra)  # fmt: skip
        tokens = step.logits[:, -1].argmax(-1).masked_fill(ended, pad_token_id)
        out[rows, i] = tokens
        ended = ended | (tokens == eos_token_id)
        if bool(ended.all()):
            break
        if int(ended.sum()) * 4 >= len(rows):  # drop the ended rows once they are a quarter of the batch
            keep = (~ended).nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            rows, tokens, mask, position, ended = rows[keep], tokens[keep], mask[keep], position[keep], ended[keep]
    return out[:, : i + 1]


@torch.no_grad()
def beam_generate(
    model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, max_new_tokens: int, eos_token_id: int,
    pad_token_id: int, num_beams: int, length_penalty: float = 1.0,
) -> torch.Tensor:
    """New tokens by beam search (`transformers`' `generate`): the most probable of `num_beams`
    continuations kept at every step, scored by summed log-probability / length ** `length_penalty`.

    Greedy commits to the likeliest next token, and one wrong token inside a name cannot be taken
    back (`Coal` for `Cobalt`: the rest of the name then goes wrong); a beam keeps the alternatives
    until a whole sequence is more probable. Same arguments and output as `greedy_generate`.
    """
    out = model.generate(
        input_ids=prompt_ids, attention_mask=prompt_mask, max_new_tokens=max_new_tokens, num_beams=num_beams,
        do_sample=False, early_stopping=True, length_penalty=length_penalty, num_return_sequences=1,
        eos_token_id=eos_token_id, pad_token_id=pad_token_id,
    )  # fmt: skip
    return out[:, prompt_ids.shape[1] :]  # transformers pads a finished beam with pad_token_id


def generate_in_chunks(
    generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor, chunk: int, pad_token_id: int,
) -> torch.Tensor:  # fmt: skip
    """`generate(ids, mask)` on at most `chunk` prompts at a time, the outputs padded to one width.

    Each piece drops the left-padding columns none of its prompts needs (positions count real tokens
    only, so a prompt's tokens stay the same); the texts are those of one call on the whole batch.
    """
    if chunk >= len(prompt_ids):
        return generate(prompt_ids, prompt_mask)
    pieces = []
    for start in range(0, len(prompt_ids), chunk):
        ids, mask = prompt_ids[start : start + chunk], prompt_mask[start : start + chunk]
        first = int(mask.any(0).long().argmax())  # the first column with a real token
        pieces.append(generate(ids[:, first:], mask[:, first:]))
    width = max(piece.shape[1] for piece in pieces)
    return torch.cat([F.pad(piece, (0, width - piece.shape[1]), value=pad_token_id) for piece in pieces])
