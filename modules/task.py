"""The task contract: how a data module's held-out sets are scored, as one object the data module holds.

`CausalLM` reads `trainer.datamodule.task` (`task_of`): the evaluation sets, a factory for the metric
each set logs, the per-example score shown beside each generation, and what a generation is compared
with. A data module without one (any LightningDataModule) gets `Task()`: a `val` and a `test` set,
scored by their loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Score = float | dict[str, float] | None


def written_reference(example: dict) -> str | None:
    """The example's reference, or its completion as written (the last assistant turn of a conversation)."""
    return example.get("reference") or example.get("completion") or None


def default_eval_sets() -> dict[str, list[str]]:
    return {"validate": ["val"], "test": ["test"]}


@dataclass(frozen=True)
class Task:
    """How a task's generations are scored.

    Args:
        eval_sets: the evaluation sets per stage, in the order of the data module's dataloaders; each
            logs its metrics under its name (`val/exact`, `val_seen/exact`).
        metric: builds a fresh torchmetrics Metric (or MetricCollection), one per set, updated with
            (generated texts, references); its `compute` gives a value or a dict of them. None: loss only.
        score: one generation's score, or a dict of scores by metric, from (completion, reference):
            shown beside it in the logged samples and `predict`'s output. None: no score.
        reference: what a generation is compared with, from the example.
    """

    eval_sets: dict[str, list[str]] = field(default_factory=default_eval_sets)
    metric: Callable[[], Any] | None = None
    score: Callable[[str, str], Score] | None = None
    reference: Callable[[dict], str | None] = written_reference

    def build_metric(self):
        return self.metric() if self.metric is not None else None

    def score_of(self, completion: str, reference: str | None) -> Score:
        return self.score(completion, reference) if self.score is not None and reference is not None else None

    def prediction_rows(self, batch: dict, completions: list[str]) -> list[dict]:
        """`lit predict`'s rows: prompt, completion, reference and its score where there is one; a
        conversation comes back as its turns with the generated assistant turn added."""
        rows = []
        conversations = batch.get("messages") or [None] * len(completions)
        for prompt, completion, reference, messages in zip(
            batch["prompts"], completions, batch["references"], conversations
        ):
            row = {"prompt": prompt, "completion": completion, "reference": reference}
            if messages is not None:
                row = {"messages": [*messages, {"role": "assistant", "content": completion}], **row}
            score = self.score_of(completion, reference)
            if score is not None:
                row["score"] = score
            rows.append(row)
        return rows


def task_of(datamodule) -> Task:
    """The data module's task, or the default one for a data module that has none."""
    task = getattr(datamodule, "task", None)
    return task if isinstance(task, Task) else Task()
