"""The held-out evaluation of a task: per evaluation set, the per-token loss, the task's metric on the
generated text, the share of generations that hit the length limit, and the first few generations.

`CausalLM` holds one (`self.evaluation`) and calls it from its Lightning hooks; it reads nothing of the
module: the task comes in through `configure`, each batch's loss and generations through `update`.
"""

from __future__ import annotations

import torch
from torchmetrics import MeanMetric, SumMetric

from modules.generation_log import keep_samples
from modules.loss import IGNORE_INDEX
from modules.task import Task


def prompt_keys(batch: dict) -> list[tuple[int, ...]]:
    """Each row's prompt as the model reads it: its tokens, padding left out (a conversation's prompt is its
    whole context, not only the last question it shows as `prompts`)."""
    ids, mask = batch["prompt_ids"].cpu(), batch["prompt_mask"].cpu().bool()
    return [tuple(row[keep].tolist()) for row, keep in zip(ids, mask)]


def distinct_rows(prompts: list) -> tuple[list[int], list[int]]:
    """The first row of each distinct prompt, and for every row the position of its prompt among those:
    a batch generates each distinct prompt once and every row gets its prompt's generation back."""
    first: dict = {}
    for row, prompt in enumerate(prompts):
        first.setdefault(prompt, row)
    rows = list(first.values())
    position = {prompt: i for i, prompt in enumerate(first)}
    return rows, [position[prompt] for prompt in prompts]


class Evaluation(torch.nn.Module):
    """The metrics of every evaluation set of a task (a module: they move with the model's device).

    Args:
        log_generations: how many examples of each set (the first ones) keep their generation for the logs.
        score_every: per set, every how many validations of `fit` it is scored by generation
            (`{"val_seen": 3}`: the third, sixth, ... and the last); its loss is computed at every one. Sets
            not named generate at every validation; `validate` and `test` score every set.
    """

    def __init__(self, log_generations: int = 8, score_every: dict[str, int] | None = None):
        super().__init__()
        self.log_generations = log_generations
        self.score_every = dict(score_every or {})
        for name, every in self.score_every.items():
            if int(every) < 1:
                raise ValueError(f"score_every[{name!r}] must be >= 1, got {every}")
        self.validations = 0  # validations of `fit` so far (the sanity check not counted)
        self.skipped: set[str] = set()  # sets that only compute their loss in this loop
        self.task = Task()
        self.losses = torch.nn.ModuleDict()  # per-token mean loss of each set
        self.hit_limit = torch.nn.ModuleDict()  # share of generations with no EOS: a loop shows here
        self.metrics = torch.nn.ModuleDict()  # the task's metric, one per set that generates
        self.distinct = torch.nn.ModuleDict()  # distinct prompts scored, summed over processes
        self.prompts: dict[str, set[tuple]] = {}  # per set: the distinct prompts (tokens) this process scored
        self.samples: dict[str, list[dict]] = {}  # per set: the kept generations

    @property
    def sets(self) -> dict[str, list[str]]:
        """The evaluation sets per stage ("validate", "test"), in the order of the data module's loaders."""
        return self.task.eval_sets

    def configure(self, task: Task) -> None:
        """Score `task`'s sets from now on (its metric built once per set)."""
        self.task = task
        for name in task.eval_sets["validate"] + task.eval_sets["test"]:
            if name not in self.losses:
                self.losses[name] = MeanMetric()
                self.hit_limit[name] = MeanMetric()
                self.distinct[name] = SumMetric()
            if name not in self.metrics:
                metric = task.build_metric()
                if metric is not None:
                    self.metrics[name] = metric

    def generates(self, name: str) -> bool:
        """Whether set `name` is scored on generated text in this loop (a set with no metric, or one that
        waits for its turn under `score_every`, is scored by its loss)."""
        return name in self.metrics and name not in self.skipped

    def start(self, names: list[str], fitting: bool = False, last: bool = False) -> None:
        """A loop over these sets begins: their states reset, and during `fit` (`fitting`, the sanity
        check excluded) the sets whose turn it is not are scored by loss only; the `last` validation of
        fit scores every set, so a run always ends with every figure."""
        self.reset(names)
        self.skipped = set()
        if fitting:
            self.validations += 1
            if not last:
                self.skipped = {n for n in names if self.validations % int(self.score_every.get(n, 1))}

    def check_monitors(self, monitors: list[str | None]) -> None:
        """A callback that monitors a metric `score_every` leaves out of some validations (a checkpoint, an
        early stop) would find it missing there: refused before training, with what to change."""
        for monitor in filter(None, monitors):  # callbacks without a monitor give None
            name, _, metric = monitor.partition("/")
            every = int(self.score_every.get(name, 1))
            if every > 1 and metric not in ("loss", "ppl"):
                raise ValueError(
                    f"a callback monitors {monitor!r}, but score_every scores {name!r} only every {every} "
                    f"validations: monitor a set scored at every one, its loss, or drop {name!r} from "
                    "score_every"
                )

    def start_validation(self, trainer) -> None:
        """A validation loop begins: during `fit` (not its sanity check) it counts, and generates the sets
        whose turn it is; `validate` generates every set."""
        fitting = trainer.state.fn == "fit" and not trainer.sanity_checking
        self.start(self.sets["validate"], fitting, fitting and last_validation_of_fit(trainer))

    def reset(self, names: list[str]) -> None:
        # At the start of a loop, not the end: states then belong to this loop's grad mode. A `validate`
        # (inference mode) before `fit` (no_grad) would otherwise leave inference tensors behind.
        for name in names:
            for group in (self.losses, self.hit_limit, self.metrics, self.distinct):
                if name in group:
                    group[name].reset()
            self.samples.pop(name, None)
            self.prompts.pop(name, None)

    def update(
        self,
        name: str,
        batch: dict,
        loss: torch.Tensor,
        new: torch.Tensor | None = None,
        completions: list[str] | None = None,
        eos: int | None = None,
    ) -> None:
        """One batch of set `name`: its mean loss over trained tokens, and where the set generates, the new
        tokens (`new`, EOS included), their text and the EOS id."""
        # Weighted by label tokens, so the epoch's loss (and perplexity) is a true per-token mean.
        self.losses[name].update(loss, weight=(batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        if new is not None:
            self.hit_limit[name].update((new != eos).all(1).float())
            self.metrics[name].update(completions, batch["references"])
            self.prompts.setdefault(name, set()).update(prompt_keys(batch))
            keep_samples(
                self.samples.setdefault(name, []),
                self.log_generations,
                batch,
                completions,
                self.task.score_of,
            )

    def compute(self, names: list[str]) -> dict[str, torch.Tensor]:
        """Every value to log for these sets (`<set>/loss`, `<set>/ppl`, `<set>/<metric>`), reduced across
        processes."""
        values = {}
        for name in names:
            if name in self.losses and self.losses[name].update_count:
                loss = self.losses[name].compute()
                values.update({f"{name}/loss": loss, f"{name}/ppl": loss.exp()})
            if name in self.metrics and name not in self.skipped:
                scores = self.metrics[name].compute()
                if self.hit_limit[name].update_count:
                    scores["hit_limit"] = self.hit_limit[name].compute()
                # How many distinct items the figures stand on (a held-out figure is quoted with it). Shards
                # are disjoint, so the per-process counts add up (a prompt repeated across shards twice).
                self.distinct[name].reset()  # counted from this loop's prompts, whenever compute runs
                self.distinct[name].update(len(self.prompts.get(name, ())))
                scores["distinct"] = self.distinct[name].compute()
                values.update({f"{name}/{key}": value for key, value in scores.items()})
        return values

    def generations(self, names: list[str]) -> dict[str, list[dict]]:
        """The kept generations of these sets, by log key (`<set>/generations`)."""
        return {f"{name}/generations": self.samples[name] for name in names if self.samples.get(name)}


def last_validation_of_fit(trainer) -> bool:
    """Whether this validation of `fit` is its last: max_steps reached, or the last batch of the last
    epoch (an early stop cannot be foreseen: that run ends on the figures of its sets' last turns)."""
    if trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
        return True
    epochs = trainer.max_epochs
    return bool(epochs and epochs > 0 and trainer.is_last_batch and trainer.current_epoch + 1 >= epochs)
