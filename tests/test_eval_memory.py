"""The evaluation memory estimates grow as the loss and generation do, and a plan keeps each call inside its
budget."""

import pytest
import torch
from transformers import AutoConfig

from modules.eval_memory import GIB, generation_bytes, loss_bytes, plan_rows
from tests.helpers import TINY_MISTRAL

# SmolLM2-135M's shapes (the embedded model): estimates are arithmetic, no weights needed.
SMOLLM2 = dict(
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    hidden_size=576,
    intermediate_size=1536,
    vocab_size=49152,
    head_dim=64,
)


@pytest.fixture
def config():
    return AutoConfig.from_pretrained(TINY_MISTRAL).__class__(**SMOLLM2)


def test_the_estimate_grows_with_prompts_beams_tokens_and_itemsize(config):
    base = generation_bytes(config, 10, 1, 40, 72, 4)
    assert generation_bytes(config, 20, 1, 40, 72, 4) > 1.9 * base
    assert generation_bytes(config, 10, 4, 40, 72, 4) > 3.9 * base
    assert generation_bytes(config, 10, 1, 40, 144, 4) > base
    assert generation_bytes(config, 10, 1, 40, 72, 2) < base


def test_the_loss_estimate_grows_with_rows_positions_and_itemsize(config):
    base = loss_bytes(config, 10, 160, 100, 4)
    assert loss_bytes(config, 20, 160, 100, 4) > 1.9 * base
    assert loss_bytes(config, 10, 160, 200, 4) > 1.5 * base
    assert loss_bytes(config, 10, 160, 100, 2) > base  # bf16 logits get an fp32 copy beside them


def generation_of(config):
    return lambda rows: generation_bytes(config, rows, 4, 40, 72, 4)


def test_the_plan_fits_the_budget_and_splits_evenly(config):
    one_call = generation_bytes(config, 100, 4, 40, 72, 4)
    whole = plan_rows(100, generation_of(config), torch.device("cpu"), budget_gib=1.01 * one_call / GIB)
    assert whole.chunk == 100 and whole.calls == 1
    plan = plan_rows(100, generation_of(config), torch.device("cpu"), budget_gib=0.3 * one_call / GIB)
    assert plan.estimate <= plan.budget and plan.calls > 1
    fewer_calls = -(-100 // (plan.calls - 1))  # prompts per call with one call less: over the budget
    assert generation_bytes(config, fewer_calls, 4, 40, 72, 4) > plan.budget
    assert plan.chunk * (plan.calls - 1) < 100 <= plan.chunk * plan.calls  # even pieces, none empty
    assert f"{plan.calls} calls of up to {plan.chunk}," in plan.describe("generation")


def test_a_budget_below_one_prompt_still_generates_one_at_a_time(config):
    plan = plan_rows(8, generation_of(config), torch.device("cpu"), budget_gib=1e-6)
    assert plan.chunk == 1 and plan.calls == 8


def test_the_default_budget_is_half_of_the_memory_available(config):
    plan = plan_rows(8, generation_of(config), torch.device("cpu"))
    assert 0 < plan.budget <= plan.available // 2 + 1
