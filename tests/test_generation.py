"""Batched generation gives each prompt what it would get alone."""

import pytest
import torch

from modules.generation import greedy_generate
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
