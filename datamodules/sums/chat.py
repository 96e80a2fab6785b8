"""The sums task as conversations: a system prompt, then one to `max_turns` sums asked and answered.

    system:    Escribe cada número como una suma de números del uno al nueve, en palabras.
    user:      12 es igual a
    assistant: nueve más tres
    user:      33 es igual a
    assistant: nueve más nueve más nueve más seis

Every assistant turn trains (the data module's `assistant_turns`); evaluation generates the last
one, given the turns before it, and scores it with the metrics the config names against that turn
as written (`words_sum_error` reads both as sums).
"""

from __future__ import annotations

import random

from datamodules.sums.data import ScoredBy, SumsDataModule, generate_sums

SYSTEM_PROMPT = "Escribe cada número como una suma de números del uno al nueve, en palabras."


def conversation(turns: list[dict], system_prompt: str | None) -> dict:
    """The examples as the user's and the assistant's turns of one conversation."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for example in turns:
        messages += [
            {"role": "user", "content": example["prompt"]},
            {"role": "assistant", "content": example["completion"]},
        ]
    return {"messages": messages, "reference": None}


def to_conversations(
    examples: list[dict], max_turns: int, seed: int, system_prompt: str | None
) -> list[dict]:
    """Consecutive examples grouped into conversations of 1..max_turns turns (the count drawn with `seed`)."""
    rng, conversations, start = random.Random(seed), [], 0
    while start < len(examples):
        turns = examples[start : start + rng.randint(1, max_turns)]
        start += len(turns)
        conversations.append(conversation(turns, system_prompt))
    return conversations


def held_out_conversations(
    scored: list[dict], context: list[dict], max_turns: int, seed: int, system_prompt: str | None
) -> list[dict]:
    """One conversation per `scored` example, ending with it, after 0..max_turns-1 turns taken in order from
    `context` (the count drawn with `seed`)."""
    rng, conversations, used = random.Random(seed), [], 0
    for example in scored:
        before = rng.randint(0, max_turns - 1)
        conversations.append(conversation([*context[used : used + before], example], system_prompt))
        used += before
    return conversations


class SumsChatDataModule(SumsDataModule):
    """Spanish sums as multi-turn conversations with a system prompt; scored by the configured `metrics`.

    `num_examples`, `num_val_examples` and `num_test_examples` count conversations; each set draws
    its sums as `SumsDataModule` does (targets, addends, held-out targets).

    Args:
        max_turns: the most sums one conversation asks (each conversation draws 1..max_turns).
        system_prompt: the system turn opening every conversation; None: no system turn.
        scored_by: see `SumsDataModule`; conversations default to the configured `metrics`.
        **kwargs: see `SumsDataModule` and `PromptCompletionDataModule` (`metrics`, `assistant_turns`).
    """

    def __init__(
        self,
        max_turns: int = 3,
        system_prompt: str | None = SYSTEM_PROMPT,
        scored_by: ScoredBy = "metrics",
        **kwargs,
    ):
        # Conversations are scored by the configured `metrics` against the last answer as written: the words,
        # not only their sum.
        super().__init__(scored_by=scored_by, **kwargs)
        if max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        self.max_turns = max_turns
        self.system_prompt = system_prompt

    def generate_examples(self, split: str) -> list[dict]:
        offset, targets, composed = self._draw(split)
        size, seed = self.sizes[split], self.seed + offset
        if split in self.held_out:
            # A held-out conversation: its scored (last) turn is one of the sums module's distinct held-out
            # questions; the turns before it are training-like sums (training targets, no held-out number), so
            # its answer is in no earlier turn.
            scored = super().generate_examples(split)
            context = generate_sums(
                size * self.max_turns,
                seed + 1,
                *self.target_range,
                self.addends,
                self.seen,
                self.composed_fraction,
                self.unseen,
            )
            return held_out_conversations(scored, context, self.max_turns, seed, self.system_prompt)
        # Enough sums for `size` conversations of up to max_turns turns; the grouping keeps the first `size`.
        avoid = (
            self.unseen if split == "train" and self.unseen else ()
        )  # held-out numbers in no training turn
        sums = generate_sums(
            size * self.max_turns, seed, *self.target_range, self.addends, targets, composed, avoid
        )
        return to_conversations(sums, self.max_turns, seed, self.system_prompt)[:size]
