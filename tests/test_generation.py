"""Batched generation gives each prompt what it would get alone, and so does a batch split in pieces."""

import logging

import pytest
import torch

from modules.causal_lm import CausalLM
from modules.eval_memory import GIB, generation_bytes
from modules.generation import beam_generate, generate_in_chunks, greedy_generate
from tests.helpers import TINY_GPT2, TINY_MISTRAL, java_batch
from tests.helpers.precision import (
    BF16_EPS,
    PRECISIONS,
    autocast,
    close,
    greedy_choice_margins,
    random_adapter_module,
)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_batched_greedy_generation_equals_one_prompt_at_a_time(precision):
    torch.manual_seed(0)
    module = random_adapter_module(TINY_MISTRAL, precision)
    batch = java_batch(TINY_MISTRAL)
    prompts, mask, pad = batch["prompt_ids"], batch["prompt_mask"], module.tokenizer.pad_token_id
    lengths = mask.sum(1)
    assert len(set(lengths.tolist())) > 2  # prompts of different lengths: left padding in the batch
    # As EOS, a token some rows produce early: rows end at different steps and leave the batch.
    eos = int(greedy_generate(module.model, prompts, mask, 8, -1, pad)[0, 3])
    with autocast(precision):
        batched = greedy_generate(module.model, prompts, mask, 16, eos, pad)
        for row in range(len(prompts)):
            alone_ids = prompts[row : row + 1, -int(lengths[row]) :]  # without padding
            alone = greedy_generate(module.model, alone_ids, torch.ones_like(alone_ids), 16, eos, pad)[0]
            expected = torch.full((batched.shape[1],), pad)
            expected[: len(alone)] = alone
            if precision == "32-true":
                assert torch.equal(batched[row], expected), row
            else:  # bf16: the same choices up to ties within bf16's rounding of the logits
                margins = greedy_choice_margins(
                    module.model, alone_ids, torch.ones_like(alone_ids), batched[row : row + 1], eos
                )
                # The tiny model's logits are of size ~1; padding changes the order of bf16 roundings
                # (steps of 2**-8 relative) over its layers: a tie can only flip within a few steps.
                assert margins.max() <= 16 * BF16_EPS, row


@pytest.mark.parametrize("num_beams", [1, 3])
def test_a_batch_generated_in_pieces_gives_the_same_tokens_as_one_call(num_beams):
    torch.manual_seed(0)
    module = random_adapter_module(TINY_MISTRAL, "32-true")
    batch = java_batch(TINY_MISTRAL)
    prompts, mask, pad = batch["prompt_ids"], batch["prompt_mask"], module.tokenizer.pad_token_id
    eos = int(greedy_generate(module.model, prompts, mask, 8, -1, pad)[0, 3])  # rows end at different steps

    def generate(ids, ids_mask):
        if num_beams == 1:
            return greedy_generate(module.model, ids, ids_mask, 16, eos, pad)
        return beam_generate(module.model, ids, ids_mask, 16, eos, pad, num_beams=num_beams)

    whole = generate(prompts, mask)
    pieces = generate_in_chunks(generate, prompts, mask, 3, pad)  # 3 + 3 + 2, each with less left padding
    assert (whole == eos).any(1).float().mean() > 0.2  # some rows end early, so widths and paddings differ
    assert torch.equal(pieces[:, : whole.shape[1]], whole)
    assert (pieces[:, whole.shape[1] :] == pad).all()


def test_the_module_splits_a_batch_over_its_memory_budget_and_says_so(caplog):
    torch.manual_seed(0)
    module = random_adapter_module(TINY_MISTRAL, "32-true")
    module.num_beams, module.max_new_tokens = 2, 12
    batch = java_batch(TINY_MISTRAL)
    prompts, mask = batch["prompt_ids"], batch["prompt_mask"]
    with caplog.at_level(logging.INFO):
        whole = module.generate(prompts, mask)
        whole_again = module.generate(prompts, mask)  # the same plan is not said again
    assert whole_again == whole
    # A budget between the estimates for 3 and 4 prompts: 8 prompts run as 3 calls (3 + 3 + 2).
    sizes = [generation_bytes(module.model.config, n, 2, prompts.shape[1], 12, 4) for n in (3, 4)]
    module.eval_memory_gib = sum(sizes) / 2 / GIB
    with caplog.at_level(logging.INFO):
        split = module.generate(prompts, mask)
    assert split == whole
    said = [r.getMessage() for r in caplog.records if "generation of 8 prompts" in r.getMessage()]
    assert len(said) == 2 and "one call" in said[0] and "3 calls of up to 3," in said[1], said


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("path", [TINY_MISTRAL, TINY_GPT2])
def test_generation_that_drops_ended_rows_gives_transformers_greedy_tokens(path, precision):
    from modules.generation import greedy_generate

    torch.manual_seed(0)
    module = random_adapter_module(path, precision)
    batch = java_batch(path)
    prompts, mask, pad = batch["prompt_ids"], batch["prompt_mask"], module.tokenizer.pad_token_id
    assert (mask == 0).any()  # left padding
    with autocast(precision):
        reference = module.model.generate(
            input_ids=prompts,
            attention_mask=mask,
            max_new_tokens=24,
            do_sample=False,
            pad_token_id=pad,
            eos_token_id=module.tokenizer.eos_token_id,
        )
    # As EOS, the generated token whose first use varies most across rows: rows then end at
    # different steps, so some leave the batch mid-way.
    new = reference[:, prompts.shape[1] :].tolist()
    eos = max({t for row in new for t in row}, key=lambda t: len({row.index(t) for row in new if t in row}))
    with autocast(precision):
        reference = module.model.generate(
            input_ids=prompts,
            attention_mask=mask,
            max_new_tokens=24,
            do_sample=False,
            pad_token_id=pad,
            eos_token_id=eos,
        )[:, prompts.shape[1] :]
        ended_at = [row.tolist().index(eos) if eos in row else None for row in reference]
        assert len(set(ended_at)) > 2
        assert torch.equal(greedy_generate(module.model, prompts, mask, 24, eos, pad), reference)


def _up_to_eos(new: torch.Tensor, eos: int) -> list[list[int]]:
    """Each row's tokens up to and including its first EOS: what is decoded, whatever fills the rest
    (`generate` fills with EOS where the pad id is 0, tiny-gpt2's case)."""
    return [row[: row.index(eos) + 1] if eos in row else row for row in new.tolist()]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize(
    "path, num_beams, length_penalty", [(TINY_MISTRAL, 4, 1.0), (TINY_GPT2, 4, 1.0), (TINY_MISTRAL, 3, -1.0)]
)
def test_our_beam_search_gives_transformers_beam_tokens(path, num_beams, length_penalty, precision):
    torch.manual_seed(0)
    module = random_adapter_module(path, precision)
    batch = java_batch(path)
    prompts, mask, pad = batch["prompt_ids"], batch["prompt_mask"], module.tokenizer.pad_token_id
    assert len(set(mask.sum(1).tolist())) > 2  # prompts of different lengths: left padding in the batch

    def transformers_beams(
        eos: int,
    ) -> torch.Tensor:  # the call beam_generate made before it had its own search
        return module.model.generate(
            input_ids=prompts,
            attention_mask=mask,
            max_new_tokens=16,
            num_beams=num_beams,
            do_sample=False,
            early_stopping=True,
            length_penalty=length_penalty,
            num_return_sequences=1,
            eos_token_id=eos,
            pad_token_id=pad,
        )[:, prompts.shape[1] :]

    with autocast(precision):
        # As EOS, the generated token whose first use varies most across rows: prompts then finish at
        # different steps (some at the length limit), so they leave our batch at different steps.
        new = transformers_beams(module.tokenizer.eos_token_id).tolist()
        eos = max(
            {t for row in new for t in row}, key=lambda t: len({row.index(t) for row in new if t in row})
        )
        reference = transformers_beams(eos)
        ours = beam_generate(
            module.model, prompts, mask, 16, eos, pad, num_beams=num_beams, length_penalty=length_penalty
        )
    ended_at = [row.index(eos) if eos in row else None for row in reference.tolist()]
    assert len(set(ended_at)) > 2, ended_at
    assert ours.shape == reference.shape  # as wide as the longest output
    assert _up_to_eos(ours, eos) == _up_to_eos(
        reference, eos
    )  # bf16 too: the same float32 scoring of the same logits
    for row, end in zip(ours, ended_at):
        assert end is None or (row[end + 1 :] == pad).all()  # pads after EOS


@pytest.mark.parametrize("precision", PRECISIONS)
def test_beam_search_finds_sequences_at_least_as_probable_as_greedy_and_more_where_they_differ(precision):
    from modules.generation import beam_generate, greedy_generate

    torch.manual_seed(0)
    module = random_adapter_module(TINY_GPT2, precision)
    batch = java_batch(TINY_GPT2)
    prompts, mask, pad = batch["prompt_ids"], batch["prompt_mask"], module.tokenizer.pad_token_id
    eos, steps = module.tokenizer.eos_token_id, 6

    def log_prob(new: torch.Tensor) -> torch.Tensor:  # of each row's new tokens, teacher-forced
        ids = torch.cat([prompts, new], 1)
        full = torch.cat([mask, torch.ones_like(new)], 1)
        positions = (full.cumsum(-1) - 1).clamp(min=0)
        logits = module.model(input_ids=ids, attention_mask=full, position_ids=positions).logits.float()
        chosen = logits[:, prompts.shape[1] - 1 : -1].log_softmax(-1).gather(-1, new[..., None])[..., 0]
        return chosen.sum(1)

    with autocast(precision):
        greedy = greedy_generate(module.model, prompts, mask, steps, eos, pad)
        beam = beam_generate(module.model, prompts, mask, steps, eos, pad, num_beams=4, length_penalty=0.0)
        assert greedy.shape == beam.shape == (prompts.shape[0], steps)  # no EOS within 6 steps here
        assert not (greedy == eos).any() and not (beam == eos).any()
        greedy_lp, beam_lp = log_prob(greedy), log_prob(beam)
        slack = close(precision, float(greedy_lp.abs().max()))[
            "atol"
        ]  # beam scores and ours round differently
        assert (beam_lp >= greedy_lp - slack).all()
        differ = (beam != greedy).any(1)
        assert (
            differ.any() and (beam_lp[differ] > greedy_lp[differ]).all()
        )  # a beam that found better sequences
        assert torch.equal(beam_generate(module.model, prompts, mask, steps, eos, pad, num_beams=1), greedy)

        module.max_new_tokens, module.num_beams = steps, 4  # what validation generates with `num_beams: 4`
        expected = beam_generate(module.model, prompts, mask, steps, eos, pad, num_beams=4)
        assert module.generate(prompts, mask) == module.tokenizer.batch_decode(
            expected, skip_special_tokens=True
        )
    with pytest.raises(ValueError, match="num_beams"):
        CausalLM(model=TINY_GPT2, num_beams=0)
