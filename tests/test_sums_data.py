""""""

import pytest

from datamodules.sums.data import generate_sums, make_addends
from datamodules.sums.spanish import read_sum, target_of


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
