"""The Spanish sums task: "33 es igual a" -> "cinco más tres más ... " summing to 33."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from typing import Literal

from datamodules.prompt_completion import PromptCompletionDataModule
from datamodules.sums.metric import SumMAE, sum_error
from datamodules.sums.spanish import target_of, write_sum
from modules.task import Task

Addends = Literal["random", "descending", "greedy", "tens"]
ScoredBy = Literal["sum", "metrics"]


def make_addends(target: int, rng: random.Random, style: Addends = "random") -> list[int]:
    """Addends in 1..9 (and tens for "tens") summing exactly to `target`.

    Args:
        target: the sum to reach.
        rng: the random source.
        style: "random" draws each addend uniformly from what still fits (the reference experiment's data);
            "descending" sorts those draws, largest first; "greedy" is as many nines as fit, then the rest;
            "tens" writes the number by place value, a "diez" per ten and then its units (33 -> diez más
            diez más diez más tres), the one split a model can read off the digits of a target it never saw.
    """
    if style == "tens":
        return [10] * (target // 10) + ([target % 10] if target % 10 else [])
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


def split_target(target: int, rng: random.Random, avoid: Collection[int] = ()) -> list[int]:
    """Two or three numbers >= 1 summing to `target`, none of them in `avoid`."""
    for _ in range(1000):
        parts = 3 if target >= 3 and rng.random() < 0.5 else 2
        cuts = sorted(rng.sample(range(1, target), parts - 1))
        numbers = [b - a for a, b in zip([0, *cuts], [*cuts, target])]
        if not set(numbers) & set(avoid):
            return numbers
    raise ValueError(f"no split of {target} into numbers outside {sorted(avoid)}")


def composed_prompt_for(numbers: Sequence[int]) -> str:
    """ "A más B es igual a" or "A más B más C es igual a": the phrasing the reference experiment
    never trained on and failed on ("20 más 23 es igual a")."""
    return " más ".join(str(n) for n in numbers) + " es igual a"


def composed_addends(numbers: Sequence[int], rng: random.Random, style: Addends) -> list[int]:
    """Addends for a composed prompt: with "tens" each number of the prompt by place value, in order
    (20 más 23 -> diez más diez, then diez más diez más tres), which needs no carrying; otherwise
    the total split as for a plain prompt."""
    if style == "tens":
        return [a for n in numbers for a in make_addends(n, rng, style)]
    return make_addends(sum(numbers), rng, style)


def generate_sums(
    num_examples: int,
    seed: int,
    min_target: int = 10,
    max_target: int = 50,
    addends: Addends = "random",
    targets: Sequence[int] | None = None,
    composed_fraction: float = 0.0,
    avoid: Collection[int] = (),
) -> list[dict]:
    """Seeded, reproducible examples with targets uniform in [min_target, max_target], or in `targets`;
    a `composed_fraction` of them asks for its target as a sum of two or three numbers, none of
    them in `avoid` (training keeps held-out numbers out of its prompts, not only out of its sums)."""
    rng = random.Random(seed)
    pool = list(targets) if targets is not None else list(range(min_target, max_target + 1))
    examples = []
    for _ in range(num_examples):
        target = rng.choice(pool) if targets is not None else rng.randint(min_target, max_target)
        if composed_fraction > 0 and target >= 2 and rng.random() < composed_fraction:
            numbers = split_target(target, rng, avoid)
            prompt, completion = (
                composed_prompt_for(numbers),
                write_sum(composed_addends(numbers, rng, addends)),
            )
        else:
            prompt, completion = prompt_for(target), write_sum(make_addends(target, rng, addends))
        examples.append({"prompt": prompt, "completion": completion, "reference": str(target)})
    return examples


def distinct_sums(
    targets: Sequence[int],
    size: int,
    seed: int,
    addends: Addends = "random",
    composed: bool = False,
    avoid: Collection[int] = (),
) -> list[dict]:
    """Up to `size` examples with distinct prompts, each asking for one of `targets`: every target's own
    prompt
    ("33 es igual a") first, then, with `composed`, distinct composed prompts on those targets ("12 más 21 es
    igual a", none of their numbers in `avoid`). An evaluation set of distinct items: each counts once."""
    rng = random.Random(seed)
    plain = list(targets)
    rng.shuffle(plain)
    examples = [
        {"prompt": prompt_for(t), "completion": write_sum(make_addends(t, rng, addends)), "reference": str(t)}
        for t in plain
    ][:size]
    prompts = {e["prompt"] for e in examples}
    for _ in range(size * 100 if composed else 0):
        if len(examples) >= size:
            break
        target = rng.choice(list(targets))
        numbers = split_target(target, rng, avoid)
        prompt = composed_prompt_for(numbers)
        if prompt not in prompts:
            prompts.add(prompt)
            completion = write_sum(composed_addends(numbers, rng, addends))
            examples.append({"prompt": prompt, "completion": completion, "reference": str(target)})
    return examples


def sums_reference(example: dict) -> str:
    """What a sum is scored against: the prompt's number (the sum of its numbers), as digits."""
    return example.get("reference") or str(target_of(example["prompt"]))


def held_out_targets(min_target: int, max_target: int, every: int) -> list[int]:
    """Every `every`-th target of the range, the last of each run: 10..50 and 5 give 14, 19, ..., 49."""
    return [t for t in range(min_target, max_target + 1) if (t - min_target) % every == every - 1]


def to_mistral_text(example: dict) -> dict:
    """The reference experiment's JSONL record (Mistral's instruction format):
    {"text": "<s>[INST] 33 es igual a [/INST] cinco más ... </s>"}."""
    return {"text": f"<s>[INST] {example['prompt']} [/INST] {example['completion']} </s>"}


class SumsDataModule(PromptCompletionDataModule):
    """Spanish arithmetic (the reference experiment's Mistral task), scored by the MAE of the generated sum.

    With `held_out_every`, every that-many-th target of the range is never trained on, not even as a number
    inside a training prompt; they are shared out in turn between `val` and `test`, which ask only for their
    own (generalization to unseen sums; disjoint from training and from each other). Held-out sets hold
    distinct prompts: each target's own ("33 es igual a") and, with `composed_fraction`, distinct composed
    ones on the same targets ("12 más 21 es igual a", never naming the other set's targets), so one item is
    one in `num_val_examples`. `val_seen` asks for each training target once (recall). Each set logs its own
    metrics. `python -m lit data sums --split NAME` writes any of them as a config draws it.

    Args:
        num_examples: generated training examples (the reference experiment used 600).
        num_val_examples: generated examples in each validation set.
        num_test_examples: generated test examples.
        seed: training data seed; the evaluation sets use other seeds from the same generator.
        min_target: smallest target.
        max_target: largest target.
        addends: how generated completions split the target (see `make_addends`); the reference
            experiment's is "random".
        held_out_every: hold out every this-many-th target (`held_out_targets`); 0: none, and `val`
            and `test` draw from the training targets as the reference experiment did.
        composed_fraction: the share of training examples whose prompt is a sum of two or three numbers;
            with held-out targets, above 0 also fills `val` and `test` with composed prompts.
        scored_by: "sum": each generation is read as a sum and compared with the prompt's number (`SumMAE`:
            `mae`, `exact`, `parse_rate`), beside any configured `metrics`; "metrics": only the configured
            `metrics`, against the completion as written.
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
        held_out_every: int = 0,
        composed_fraction: float = 0.0,
        scored_by: ScoredBy = "sum",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if min_target < 1 or max_target < min_target:
            raise ValueError(f"need 1 <= min_target <= max_target, got {min_target}..{max_target}")
        if held_out_every < 0 or held_out_every == 1:
            raise ValueError(f"held_out_every must be 0 (none) or >= 2, got {held_out_every}")
        if not 0.0 <= composed_fraction <= 1.0:
            raise ValueError(f"composed_fraction must be in [0, 1], got {composed_fraction}")
        self.seed = seed
        self.target_range = (min_target, max_target)
        self.addends = addends
        self.composed_fraction = composed_fraction
        targets = range(min_target, max_target + 1)
        self.unseen = held_out_targets(min_target, max_target, held_out_every) if held_out_every else None
        self.seen = [t for t in targets if t not in set(self.unseen)] if self.unseen else None
        # Held-out targets shared out in turn: 15, 27, 39 for `val`, 21, 33, 45 for `test` in the main job.
        self.held_out = {"val": self.unseen[0::2], "test": self.unseen[1::2]} if self.unseen else {}
        validate = ["val"] + (["val_seen"] if self.unseen else [])
        eval_sets = {"validate": validate, "test": ["test"]}
        if scored_by not in ("sum", "metrics"):
            raise ValueError(f"scored_by must be 'sum' or 'metrics', got {scored_by!r}")
        by_sum = scored_by == "sum"
        self.own_task = Task(eval_sets, SumMAE, sum_error, sums_reference) if by_sum else Task(eval_sets)
        self.sizes = {"train": num_examples, "test": num_test_examples}
        self.sizes.update({name: num_val_examples for name in validate})

    # split -> (seed offset, targets, composed fraction); distinct seeds keep the sets independent.
    def _draw(self, split: str) -> tuple[int, list[int] | None, float]:
        return {
            "train": (0, self.seen, self.composed_fraction),  # composed: without held-out numbers too
            "val": (1_000_003, self.held_out.get("val") or self.unseen, 0.0),
            "val_seen": (1_500_007, self.seen, 0.0),
            "test": (2_000_003, self.held_out.get("test") or self.unseen, 0.0),
        }[split]

    def generate_examples(self, split: str) -> list[dict]:
        offset, targets, composed = self._draw(split)
        size, seed = self.sizes[split], self.seed + offset
        if not self.unseen:  # the reference experiment's sets: draws from every target
            return generate_sums(size, seed, *self.target_range, self.addends, targets, composed)
        if split == "train":
            return generate_sums(size, seed, *self.target_range, self.addends, targets, composed, self.unseen)
        other = self.held_out["test" if split == "val" else "val"] if split in self.held_out else ()
        return distinct_sums(
            targets, size, seed, self.addends, self.composed_fraction > 0 and split != "val_seen", avoid=other
        )
