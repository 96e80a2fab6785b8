"""Batched generation gives each prompt what it would get alone, and so does a batch split in pieces."""

import logging

import pytest
import torch

from modules.generation import beam_generate, generate_in_chunks, greedy_generate
from modules.generation_memory import GIB, generation_bytes
from tests.conftest import TINY_MISTRAL
from tests.precision import BF16_EPS, PRECISIONS, autocast, greedy_choice_margins, random_adapter_module
from tests.test_speed import java_batch


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
                margins = greedy_choice_margins(module.model, alone_ids, torch.ones_like(alone_ids), batched[row : row + 1], eos)
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
    module.generation_memory_gib = sum(sizes) / 2 / GIB
    with caplog.at_level(logging.INFO):
        split = module.generate(prompts, mask)
    assert split == whole
    said = [r.getMessage() for r in caplog.records if "generation of 8 prompts" in r.getMessage()]
    assert len(said) == 2 and "one call" in said[0] and "3 calls of up to 3 prompts" in said[1], said
