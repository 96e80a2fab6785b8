"""Batched generation, greedy and beam search, that stops computing a sequence once it has ended.

`transformers`' `generate` keeps every row of a batch until the last one ends, feeding pads to
the finished ones: on the Java task, where methods are 10 to 60 tokens, that is about half of
the decoding work of a 50-prompt batch. Here finished rows leave the batch (and the KV cache):
greedily, once a quarter of it has ended (the quarter: dropping at every end measured no faster,
each drop copies the cache); with beams, a prompt as soon as it is done (the beams' reordering
copies the cache at every step anyway). The tokens are `generate`'s, row by row.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
import torch.nn.functional as F


@torch.no_grad()
def greedy_generate(
    model,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    max_new_tokens: int,
    eos_token_id: int,
    pad_token_id: int,
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
    call = _model_call(model)
    # Positions count real tokens only, as `generate` does for left padding.
    positions = (prompt_mask.long().cumsum(-1) - 1).clamp(min=0)
    logits, cache = call(prompt_ids, prompt_mask, positions, None)
    mask, position = prompt_mask, positions[:, -1:]
    rows = torch.arange(batch, device=device)  # the batch row each remaining sequence came from
    ended = torch.zeros(batch, dtype=torch.bool, device=device)
    for i in range(max_new_tokens):
        if i:
            mask = torch.cat([mask, mask.new_ones(len(rows), 1)], dim=1)
            position = position + 1
            logits, cache = call(tokens[:, None], mask, position, cache)  # noqa: F821 (set at step 0)
        tokens = logits.argmax(-1).masked_fill(ended, pad_token_id)
        out[rows, i] = tokens
        ended = ended | (tokens == eos_token_id)
        if bool(ended.all()):
            break
        if int(ended.sum()) * 4 >= len(rows):  # drop the ended rows once they are a quarter of the batch
            keep = (~ended).nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            rows, tokens, mask, position, ended = (
                rows[keep],
                tokens[keep],
                mask[keep],
                position[keep],
                ended[keep],
            )
    return out[:, : i + 1]


@torch.no_grad()
def beam_generate(
    model,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    max_new_tokens: int,
    eos_token_id: int,
    pad_token_id: int,
    num_beams: int,
    length_penalty: float = 1.0,
) -> torch.Tensor:
    """New tokens by beam search: the most probable of `num_beams` continuations kept at every step,
    a finished sequence scored by summed log-probability / length ** `length_penalty`.

    Greedy commits to the likeliest next token, and one wrong token inside a name cannot be taken
    back (`Coal` for `Cobalt`: the rest of the name then goes wrong); a beam keeps the alternatives
    until a whole sequence is more probable. Same arguments and output as `greedy_generate`.

    The same search as `transformers`' `generate(num_beams=..., do_sample=False, early_stopping=True)`
    (its 5.x steps, in the same float32 operations, so the same tokens; tests/test_generation.py), with
    two differences in the work, none in the result: the prompt pass runs once per prompt, not once
    per beam (the cache is then copied to the beams), and a prompt leaves the batch, its beams the
    cache, once it holds `num_beams` finished sequences (`early_stopping=True`: nothing can then
    replace them), where `generate` keeps decoding it until the batch's last prompt is done. Leaving
    costs nothing extra: every step already copies the cache into the beams' new order.
    """
    if num_beams == 1:
        return greedy_generate(model, prompt_ids, prompt_mask, max_new_tokens, eos_token_id, pad_token_id)
    batch, beams, device = prompt_ids.shape[0], num_beams, prompt_ids.device
    call = _model_call(model)
    positions = (prompt_mask.long().cumsum(-1) - 1).clamp(min=0)
    logits, cache = call(prompt_ids, prompt_mask, positions, None)
    # Per remaining prompt: the running beams (never ended) and the best finished sequences so far.
    rows = torch.arange(batch, device=device)  # the batch row each remaining prompt came from
    running = torch.full((batch, beams, max_new_tokens), pad_token_id, dtype=torch.long, device=device)
    running_scores = torch.zeros(batch, beams, device=device)
    running_scores[:, 1:] = -1e9  # at first the beams are copies: only the first one's tokens count
    done = running.clone()
    done_scores = torch.full((batch, beams), -1e9, device=device)
    done_lengths = torch.zeros(batch, beams, dtype=torch.long, device=device)
    is_done = torch.zeros(batch, beams, dtype=torch.bool, device=device)
    # Of the 2 x beams best continuations only the first `beams` may finish (as in `generate`); the
    # others are there so that `beams` unfinished ones remain when EOS is among the best.
    may_finish = torch.arange(2 * beams, device=device) < beams
    out = torch.full((batch, max_new_tokens), pad_token_id, dtype=torch.long, device=device)
    lengths = torch.zeros(batch, dtype=torch.long, device=device)
    mask, position = prompt_mask, positions[:, -1:]
    for i in range(max_new_tokens):
        remaining = len(rows)
        log_probs = F.log_softmax(logits.float(), dim=-1)
        vocab = log_probs.shape[-1]
        log_probs = log_probs.view(remaining, -1, vocab).expand(
            remaining, beams, vocab
        )  # one row a prompt at i == 0
        scores = (log_probs + running_scores[:, :, None]).reshape(remaining, beams * vocab)
        top_scores, top = torch.topk(scores, k=2 * beams)
        source, tokens = top // vocab, top % vocab
        candidates = running.gather(1, source[:, :, None].expand(-1, -1, max_new_tokens)).clone()
        candidates[:, :, i] = tokens
        ends = (tokens == eos_token_id) | (i == max_new_tokens - 1)
        # The best `beams` continuations that have not ended run on.
        keep = torch.topk(top_scores + ends.to(torch.float32) * -1e9, k=beams)[1]
        running = candidates.gather(1, keep[:, :, None].expand(-1, -1, max_new_tokens))
        running_scores = (top_scores + ends.to(torch.float32) * -1e9).gather(1, keep)
        running_source = source.gather(1, keep)
        # Those that ended join the finished ones where they score better (length-penalised).
        finishing = ends & may_finish[None, :]
        ended_scores = top_scores / ((i + 1) ** length_penalty) + (~finishing) * -1e9
        merged = torch.topk(torch.cat([done_scores, ended_scores], 1), k=beams)[1]
        done = torch.cat([done, candidates], 1).gather(1, merged[:, :, None].expand(-1, -1, max_new_tokens))
        done_scores = torch.cat([done_scores, ended_scores], 1).gather(1, merged)
        done_lengths = torch.cat([done_lengths, done_lengths.new_full(ends.shape, i + 1)], 1).gather(
            1, merged
        )
        is_done = torch.cat([is_done, finishing], 1).gather(1, merged)
        # A prompt with `beams` finished sequences is done: the best (first) is its output.
        finished = is_done.all(1) | (i == max_new_tokens - 1)
        if bool(finished.any()):
            out[rows[finished]] = done[finished, 0]
            lengths[rows[finished]] = done_lengths[finished, 0]
            if bool(finished.all()):
                break
            stay = (~finished).nonzero().squeeze(1)
            rows, running, running_scores = rows[stay], running[stay], running_scores[stay]
            running_source = running_source[stay]
            done, done_scores, done_lengths, is_done = (
                done[stay],
                done_scores[stay],
                done_lengths[stay],
                is_done[stay],
            )
        else:
            stay = torch.arange(remaining, device=device)
        # The cache row of each next beam: its prompt's only row after the prompt pass, then its source
        # beam's.
        cache_rows = stay[:, None] if i == 0 else stay[:, None] * beams + running_source
        cache_rows = cache_rows.expand(-1, beams).reshape(-1)
        cache.reorder_cache(cache_rows)
        mask = torch.cat([mask[cache_rows], mask.new_ones(len(cache_rows), 1)], dim=1)
        position = position[cache_rows] + 1
        logits, cache = call(running[:, :, i].reshape(-1, 1), mask, position, cache)
    # As `generate` returns them: as wide as the longest output, pads after each one's end.
    return out[:, : int(lengths.max())]


def _model_call(model) -> Callable:
    """`call(ids, mask, positions, cache)` -> (the logits at the last position, the cache): the
    model's forward with its cache under either of its names, the LM head at the last position only."""
    # transformers renamed `past_key_values` to `cache` within 5.x.
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    parameters = inspect.signature(base.forward).parameters
    cache_name = "cache" if "cache" in parameters else "past_key_values"
    extra = {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}

    def call(ids, mask, positions, cache):
        past = {} if cache is None else {cache_name: cache}
        step = model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **past, **extra
        )
        return step.logits[:, -1], getattr(step, cache_name)

    return call


def generate_in_chunks(
    generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    chunk: int,
    pad_token_id: int,
) -> torch.Tensor:
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


def returned_lengths(new: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Per row of generated tokens, how many are returned: up to and including the first EOS."""
    is_eos = (new == eos_token_id).int()
    return ((is_eos.cumsum(1) - is_eos) == 0).sum(1)


@torch.no_grad()
def generate_new_tokens(
    model,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    max_new_tokens: int,
    eos_token_id: int,
    pad_token_id: int,
    num_beams: int = 1,
    chunk: int | None = None,
) -> torch.Tensor:
    """The new tokens (EOS included, pads after it) for left-padded prompts: greedy, or beam search with
    `num_beams`, on at most `chunk` prompts at a time; the model in eval mode for it, its mode restored."""
    was_training = model.training
    model.eval()

    def generate(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        args = (model, ids, mask, max_new_tokens, eos_token_id, pad_token_id)
        return greedy_generate(*args) if num_beams == 1 else beam_generate(*args, num_beams=num_beams)

    try:
        return generate_in_chunks(generate, prompt_ids, prompt_mask, chunk or len(prompt_ids), pad_token_id)
    finally:
        model.train(was_training)
