"""The sums generator: exact sums, reproducible, addend styles, held-out targets, composed prompts."""

from types import SimpleNamespace

import pytest

from datamodules.sums import SumsDataModule
from datamodules.sums.data import composed_addends, generate_sums, make_addends
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


@pytest.mark.parametrize("style", ["random", "descending", "greedy", "tens"])
def test_addend_styles_reach_the_target(style):
    import random

    rng = random.Random(3)
    for target in range(10, 51):
        addends = make_addends(target, rng, style)
        assert sum(addends) == target and all(1 <= a <= (10 if style == "tens" else 9) for a in addends)
        if style == "descending":
            assert addends == sorted(addends, reverse=True)
    assert make_addends(33, rng, "greedy") == [9, 9, 9, 6]


def test_tens_write_a_number_by_place_value_and_composed_prompts_number_by_number():
    import random

    rng = random.Random(0)
    assert make_addends(33, rng, "tens") == [10, 10, 10, 3]
    assert make_addends(40, rng, "tens") == [10, 10, 10, 10]
    assert make_addends(7, rng, "tens") == [7]
    assert composed_addends([20, 23], rng, "tens") == [10, 10, 10, 10, 3]  # no carrying: 20, then 23
    assert composed_addends([5, 38], rng, "tens") == [5, 10, 10, 10, 8]
    assert sum(composed_addends([17, 26], rng, "greedy")) == 43  # other styles split the total
    for e in generate_sums(300, seed=1, max_target=99, addends="tens", composed_fraction=0.5):
        assert read_sum(e["completion"]) == (int(e["reference"]), True) == (target_of(e["prompt"]), True)


def test_training_prompts_never_name_a_held_out_number():
    data = SumsDataModule(num_examples=2000, held_out_every=6, composed_fraction=0.5, addends="tens")
    assert data.unseen == [15, 21, 27, 33, 39, 45]
    named = {int(n) for e in data.generate_examples("train") for n in e["prompt"].split() if n.isdigit()}
    assert named and not named & set(data.unseen)
    # evaluation's composed prompts may name its own held-out numbers, never the other set's
    val = data.generate_examples("val")
    assert {target_of(e["prompt"]) for e in val} == {15, 27, 39}
    assert not {int(n) for e in val for n in e["prompt"].split() if n.isdigit()} & {21, 33, 45}


def test_without_held_out_targets_the_sets_are_drawn_as_before():
    data = SumsDataModule(num_examples=50, seed=3)
    assert data.task.eval_sets == {"validate": ["val"], "test": ["test"]}
    assert data.generate_examples("train") == generate_sums(50, 3)
    assert data.generate_examples("val") == generate_sums(100, 3 + 1_000_003)


def test_held_out_targets_give_each_set_its_own_metrics(tmp_path):
    data = SumsDataModule(held_out_every=5, composed_fraction=0.5)
    assert data.task.eval_sets == {"validate": ["val", "val_seen"], "test": ["test"]}
    assert data.unseen == [14, 19, 24, 29, 34, 39, 44, 49]
    module = CausalLM(model=TINY_MISTRAL)
    module._trainer = SimpleNamespace(datamodule=data)  # setup reads only the data module
    module.setup("validate")
    assert set(module.evaluation.metrics) == {"val", "val_seen", "test"}


def test_the_main_jobs_val_and_test_are_distinct_items_disjoint_from_training_and_each_other():
    """configs/embedded/sums.yaml's held-out sets: every prompt once, so one item is 1% of `val` and 0.5% of
    `test`; `val` and `test` ask for different held-out targets. At 98a4026 both were draws of the same 6
    prompts (`val` 100 draws, `test` 200), so "1.00 on 100 prompts" was 6 of 6, twice."""
    import yaml

    from tests.helpers import ROOT

    args = yaml.safe_load((ROOT / "configs" / "embedded" / "sums.yaml").read_text())["data"]["init_args"]
    data = SumsDataModule(**args)
    sets = {split: data.generate_examples(split) for split in ("train", "val", "val_seen", "test")}
    prompts = {split: [e["prompt"] for e in examples] for split, examples in sets.items()}
    targets = {split: {int(e["reference"]) for e in examples} for split, examples in sets.items()}
    for split, size in (("val", 100), ("test", 200), ("val_seen", 35)):
        assert len(prompts[split]) == len(set(prompts[split])) == size, split
    assert not set(prompts["val"]) & set(prompts["test"]) and not targets["val"] & targets["test"]
    assert (
        not (targets["val"] | targets["test"]) & targets["train"] and targets["val_seen"] == targets["train"]
    )
    assert not (set(prompts["val"]) | set(prompts["test"])) & set(prompts["train"])
