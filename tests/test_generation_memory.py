"""The generation memory estimate grows as generation does, and the plan keeps each call inside its budget."""

import pytest
import torch
from transformers import AutoConfig

from modules.generation_memory import GIB, generation_bytes, plan_generation
from tests.helpers import TINY_MISTRAL

# SmolLM2-135M's shapes (the embedded model): estimates are arithmetic, no weights needed.
SMOLLM2 = dict(num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, hidden_size=576,
               intermediate_size=1536, vocab_size=49152, head_dim=64)  # fmt: skip


@pytest.fixture
def config():
    return AutoConfig.from_pretrained(TINY_MISTRAL).__class__(**SMOLLM2)


def test_the_estimate_grows_with_prompts_beams_tokens_and_itemsize(config):
    base = generation_bytes(config, 10, 1, 40, 72, 4)
    assert generation_bytes(config, 20, 1, 40, 72, 4) > 1.9 * base
    assert generation_bytes(config, 10, 4, 40, 72, 4) > 3.9 * base
    assert generation_bytes(config, 10, 1, 40, 144, 4) > base
    assert generation_bytes(config, 10, 1, 40, 72, 2) < base


def test_the_plan_fits_the_budget_and_splits_evenly(config):
    one_call = generation_bytes(config, 100, 4, 40, 72, 4)
    whole = plan_generation(config, 100, 4, 40, 72, 4, torch.device("cpu"), budget_gib=1.01 * one_call / GIB)
    assert whole.chunk == 100 and whole.calls == 1
    plan = plan_generation(config, 100, 4, 40, 72, 4, torch.device("cpu"), budget_gib=0.3 * one_call / GIB)
    assert plan.estimate <= plan.budget and plan.calls > 1
    fewer_calls = -(-100 // (plan.calls - 1))  # prompts per call with one call less: over the budget
    assert generation_bytes(config, fewer_calls, 4, 40, 72, 4) > plan.budget
    assert plan.chunk * (plan.calls - 1) < 100 <= plan.chunk * plan.calls  # even pieces, none empty
    assert f"{plan.calls} calls of up to {plan.chunk} prompts" in plan.describe(4, 112)


def test_a_budget_below_one_prompt_still_generates_one_at_a_time(config):
    plan = plan_generation(config, 8, 4, 40, 72, 4, torch.device("cpu"), budget_gib=1e-6)
    assert plan.chunk == 1 and plan.calls == 8


def test_the_default_budget_is_half_of_the_memory_available(config):
    plan = plan_generation(config, 8, 1, 40, 72, 4, torch.device("cpu"))
    assert 0 < plan.budget <= plan.available // 2 + 1
