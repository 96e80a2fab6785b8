"""The Spanish sums task: "33 es igual a" -> "cinco más tres más ... " summing to 33."""

from __future__ import annotations

import random
from typing import Literal

from datamodules.prompt_completion import PromptCompletionDataModule
from datamodules.sums.metric import SumMAE, sum_error
from datamodules.sums.spanish import target_of, write_sum

Addends = Literal["random", "descending", "greedy"]


def make_addends(target: int, rng: random.Random, style: Addends = "random") -> list[int]:
    """Addends in 1..9 summing exactly to `target`.

    Args:
        target: the sum to reach.
        rng: the random source.
        style: "random" draws each addend uniformly from what still fits (the reference experiment's data);
            "descending" sorts those draws, largest first; "greedy" is as many nines as fit, then the rest.
    """
    if style == "greedy":
        return [9] * (target // 9) + ([target % 9] if target % 9 else [])
    addends, remaining = [], target
    while remaining > 0:
        addend = rng.randint(1, min(9, remaining))
        addends.append(addend)
        remaining -= addend
    return sorted(addends, reverse=True) if style == "descending" else addends


def prompt_for(target: int) -> str:
    return f"{target} es igual a"


def generate_sums(
    num_examples: int, seed: int, min_target: int = 10, max_target: int = 50, addends: Addends = "random"
) -> list[dict]:
    """Seeded, reproducible examples with targets uniform in [min_target, max_target]."""
    rng = random.Random(seed)
    examples = []
    for _ in range(num_examples):
        target = rng.randint(min_target, max_target)
        examples.append(
            {"prompt": prompt_for(target), "completion": write_sum(make_addends(target, rng, addends)),
             "reference": str(target)}
        )  # fmt: skip
    return examples


def to_mistral_text(example: dict) -> dict:
    """The reference experiment's JSONL record (Mistral's instruction format):
    {"text": "<s>[INST] 33 es igual a [/INST] cinco más ... </s>"}."""
    return {"text": f"<s>[INST] {example['prompt']} [/INST] {example['completion']} </s>"}


class SumsDataModule(PromptCompletionDataModule):
    """Spanish arithmetic (the reference experiment's Mistral task), scored by the MAE of the generated sum.

    Args:
        num_examples: generated training examples (the reference experiment used 600).
        num_val_examples: generated validation examples.
        num_test_examples: generated test examples.
        seed: training data seed; validation and test use other seeds from the same generator.
        min_target: smallest target.
        max_target: largest target.
        addends: how generated completions split the target (see `make_addends`); the reference experiment's is "random".
        **kwargs: see `PromptCompletionDataModule`.
    """

    def __init__(
        self,
        num_examples: int = 600,
        num_val_examples: int = 100,
        num_test_examples: int = 200,
        seed: int = 0,
        min_target: int = 10,
        max_target: int = 50,
        addends: Addends = "random",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if min_target < 1 or max_target < min_target:
            raise ValueError(f"need 1 <= min_target <= max_target, got {min_target}..{max_target}")
        self.sizes = {"train": num_examples, "val": num_val_examples, "test": num_test_examples}
        self.seed = seed
        self.target_range = (min_target, max_target)
        self.addends = addends

    def generate_examples(self, split: str, epoch: int = 0) -> list[dict]:
        # Distinct seeds per split keep the held-out sets independent of the training draw.
        offset = {"train": 0, "val": 1_000_003, "test": 2_000_003}[split]
        return generate_sums(self.sizes[split], self.seed + offset, *self.target_range, self.addends)

    def reference(self, example: dict) -> str:
        return example.get("reference") or str(target_of(example["prompt"]))

    def build_metric(self):
        return SumMAE()

    def score(self, completion: str, reference: str) -> float:
        return sum_error(completion, reference)
