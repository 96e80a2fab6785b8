"""The task contract: what a data module offers the model for evaluation, with its defaults.

`CausalLM` reads these hooks from the Trainer's data module. A task's data module derives from
`Task` (the prompt -> completion base and the Java corpus do) and overrides what it has; any
other LightningDataModule gets the defaults: a `val` and a `test` set, scored by their loss.
"""

from __future__ import annotations

from typing import Optional, Union

Score = Union[float, dict[str, float], None]


class Task:
    # The evaluation sets per stage, in the order of the data module's dataloaders; each logs its
    # own metrics under its name (Java adds `val_seen`, its training words, beside `val`).
    eval_sets: dict[str, list[str]] = {"validate": ["val"], "test": ["test"]}

    def build_metric(self):
        """A torchmetrics Metric (or MetricCollection) updated with (generated texts, references) whose
        `compute` gives a value or a dict of them, each logged as `<set>/<key>`; None: loss only."""
        return None

    def score(self, completion: str, reference: str) -> Score:
        """One generation's score, or a dict of scores by metric, shown beside it in the logged samples
        and `predict`'s output."""
        return None

    def reference(self, example: dict) -> Optional[str]:
        """What the metric compares a generation with; by default the example's completion."""
        return example.get("reference") or example.get("completion") or None


DEFAULT_TASK = Task()


def task_of(datamodule) -> Task:
    """The data module's task hooks, or the defaults for one that offers none."""
    return datamodule if isinstance(datamodule, Task) else DEFAULT_TASK
