"""The sums generator: exact sums, reproducible, addend styles, held-out targets, composed prompts."""

from types import SimpleNamespace

import pytest

from datamodules.sums import SumsDataModule
from datamodules.sums.data import generate_sums, make_addends
from datamodules.sums.spanish import read_sum, target_of
from modules.causal_lm import CausalLM
from tests.helpers import TINY_MISTRAL


def test_generator_sums_exactly_in_range_and_is_reproducible():
    examples = generate_sums(600, seed=0)
    assert examples == generate_sums(600, seed=0)
    assert examples != generate_sums(600, seed=1)
    targets = [int(e["reference"]) for e in examples]
    assert min(targets) == 10 and max(targets) == 50
    for e in examples:
        total, parsed = read_sum(e["completion"])
        assert parsed and total == int(e["reference"]) == target_of(e["prompt"])
        assert all(1 <= a <= 9 for a in make_addends(int(e["reference"]), __import__("random").Random(0)))


@pytest.mark.parametrize("style", ["random", "descending", "greedy"])
def test_addend_styles_reach_the_target(style):
    import random

    rng = random.Random(3)
    for target in range(10, 51):
        addends = make_addends(target, rng, style)
        assert sum(addends) == target and all(1 <= a <= 9 for a in addends)
        if style == "descending":
            assert addends == sorted(addends, reverse=True)
    assert make_addends(33, rng, "greedy") == [9, 9, 9, 6]


def test_without_held_out_targets_the_sets_are_drawn_as_before():
    data = SumsDataModule(num_examples=50, seed=3)
    assert data.eval_sets == {"validate": ["val"], "test": ["test"]}
    assert data.generate_examples("train") == generate_sums(50, 3)
    assert data.generate_examples("val") == generate_sums(100, 3 + 1_000_003)


def test_held_out_targets_give_each_set_its_own_metrics(tmp_path):
    data = SumsDataModule(held_out_every=5, composed_fraction=0.5)
    assert data.eval_sets["validate"] == ["val", "val_seen", "val_composed"]
    assert data.unseen == [14, 19, 24, 29, 34, 39, 44, 49]
    module = CausalLM(model=TINY_MISTRAL)
    module._trainer = SimpleNamespace(datamodule=data)  # setup reads only the data module
    module.setup("validate")
    assert set(module.metrics) == {"val", "val_seen", "val_composed", "test"}
