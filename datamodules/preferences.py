"""Preference pairs for DPO-style training, evaluated on a task's own held-out sets.

`PreferenceDataModule` trains on {"prompt", "chosen", "rejected"} records (`datamodules.preference_pairs`)
and holds a task's data module (`task`, e.g. `SumsDataModule`) for two things: the pairs render exactly as
that task's SFT examples do (its prompt format or chat template), and validation and test are that task's
held-out sets, generated and scored with its metric: the held-out figure before and after preference
tuning is the task's own. The model reads the task (`modules.task`) from here as from any data module.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader

from datamodules.batches import pair_batch
from datamodules.preference_pairs import pair_of, tokenize_pair
from datamodules.preflight import _named
from datamodules.prompt_completion import PromptCompletionDataModule
from datamodules.records import DataError, iter_records
from datamodules.resumable import ResumableLoader, default_seed
from modules.task import Task


def looks_like_a_file(source: str) -> bool:
    """A path with a data file's suffix (not a `datasets` name such as "org/name:split")."""
    return Path(source).suffix in (".jsonl", ".json", ".csv", ".tsv", ".parquet")


def build_task_data(spec: PromptCompletionDataModule | dict | None, chat_template, **shared):
    """The task's data module: given, built from {"class_path", "init_args"} (a checkpoint's record), or,
    for None, a plain one that only renders (with `chat_template`; no evaluation sets)."""
    if isinstance(spec, PromptCompletionDataModule):
        return spec
    if spec is None:
        data = PromptCompletionDataModule(chat_template=chat_template, **shared)
        data.own_task = Task(eval_sets={"validate": [], "test": []})
        return data
    module_name, _, class_name = spec["class_path"].rpartition(".")
    kind = getattr(importlib.import_module(module_name), class_name)
    return kind(**{**(spec.get("init_args") or {}), **shared})


def task_record(task: PromptCompletionDataModule | dict, shared: dict) -> dict:
    """The task's data module as {"class_path", "init_args"} with plain values, the shared settings in."""
    if isinstance(task, dict):
        init_args = {**(task.get("init_args") or {}), **shared}
        return {"class_path": task["class_path"], "init_args": init_args}
    kind = type(task)
    init_args = {k: v for k, v in task.hparams.items() if not k.startswith("_")}
    return {"class_path": f"{kind.__module__}.{kind.__qualname__}", "init_args": {**init_args, **shared}}


class PreferenceDataModule(L.LightningDataModule):
    """(prompt, chosen, rejected) pairs to train on; a task's held-out sets to score.

    Args:
        tokenizer: the model source whose tokenizer renders the pairs and the task; linked from
            `model.model` (and given to `task`, so the two always render alike).
        train_file: the pairs: JSONL, JSON, CSV, Parquet, a `save_to_disk` folder or a `datasets` name
            (`datamodules.records`); plain strings, or conversational (prompt: a list of turns).
        task: the task whose rendering the pairs follow and whose `val`/`test` sets evaluate the model: its
            data module as `{class_path: datamodules.SumsDataModule, init_args: {...}}` (built here, with
            this module's tokenizer), or a data module object; None: no evaluation, pairs rendered with
            `chat_template`.
        batch_size: pairs per training batch (each a chosen and a rejected row: twice the rows).
        max_length: longest pair side in tokens; longer pairs keep the prompt's end and the responses'
            start (`datamodules.preference_pairs`).
        chat_template: without a task: as in `PromptCompletionDataModule` (None: the tokenizer's, where
            it has one).
        num_workers: DataLoader workers.
        trust_remote_code: allow tokenizer code from the hub; linked from `model.trust_remote_code`.
    """

    def __init__(
        self,
        tokenizer: str = "smollm2-135m-instruct",
        train_file: str | None = None,
        task: dict[str, Any] | None = None,
        batch_size: int = 8,
        max_length: int = 256,
        chat_template: bool | str | None = None,
        num_workers: int = 0,
        trust_remote_code: bool = False,
    ):
        super().__init__()
        shared = {"tokenizer": tokenizer, "trust_remote_code": trust_remote_code}
        self.task_data = build_task_data(task, chat_template, **shared)
        # The pairs render as the task does, both with the model's tokenizer: said once (the link).
        self.task_data.tokenizer_source, self.task_data.trust_remote_code = tokenizer, trust_remote_code
        self.evaluates = task is not None
        self.save_hyperparameters(ignore=["task"])
        if task is not None:  # plain values: checkpoints load with weights_only, `lit export` rebuilds it
            self.hparams["task"] = task_record(task, shared)
        self.train_file = train_file
        self.batch_size = batch_size
        self.max_length = max_length
        self.num_workers = num_workers
        self.pairs: list[dict] | None = None

    @property
    def task(self) -> Task:
        """The held-out sets, metric and scores: the task's."""
        return self.task_data.task

    @property
    def tokenizer(self):
        return self.task_data.tokenizer

    def read_pairs(self) -> list[dict]:
        """Every record read, checked and tokenized; the first bad one raises DataError naming it."""
        if self.train_file is None:
            raise DataError("PreferenceDataModule needs `train_file`: {prompt, chosen, rejected} records")
        if looks_like_a_file(self.train_file) and not Path(self.train_file).expanduser().exists():
            raise DataError(
                f"Preference file {self.train_file!r} does not exist: write one from a checkpoint with "
                f"`python -m lit data preferences --ckpt CKPT --out {self.train_file}` (docs/preferences.md)"
            )
        renderer, pairs = self.task_data, []
        renderer.ready_tokenizer()
        for record, where in iter_records(self.train_file, "train"):
            pairs.append(tokenize_pair(renderer, pair_of(record, where), self.max_length))
        if not pairs:
            raise DataError(f"{self.train_file}: no preference records")
        return pairs

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.pairs is None:
            self.pairs = self.read_pairs()  # before the model loads: bad data fails in seconds
            self.report(self.pairs)
        if self.evaluates:  # the task's held-out sets only, never its training split
            self.task_data.setup("validate" if stage == "fit" else stage)

    def report(self, pairs: list[dict]) -> None:
        cut = [p for p in pairs if p["truncated"]]
        if cut:
            rank_zero_warn(
                f"{_named(cut, len(pairs), 'preference')} are longer than max_length={self.max_length} (up to"
                " "
                f"{max(p['length'] for p in cut)} tokens): kept the prompt's end and the responses' start"
            )
        first, decode = pairs[0], self.tokenizer.decode
        start = sum(label == -100 for label in first["chosen_labels"])
        rank_zero_info(
            f"lit: pre-flight, preference pair 1 of {len(pairs)} ({first['where']}):\n"
            f"  prompt:   {decode(first['chosen_ids'][:start])!r}\n"
            f"  chosen:   {decode(first['chosen_ids'][start:])!r}\n"
            f"  rejected: {decode(first['rejected_ids'][start:])!r}"
        )
        rank_zero_info(
            f"lit: pre-flight passed: {len(pairs)} preference pairs, longest "
            f"{max(p['length'] for p in pairs)} tokens (max_length {self.max_length})"
        )

    def prepare_split(self, split: str) -> list[dict]:
        """A held-out set of the task, tokenized as evaluation reads it (the pairs are `pairs`)."""
        if not self.evaluates:
            raise ValueError(f"no task to hold out {split!r}: the config's PreferenceDataModule names none")
        return self.task_data.prepare_split(split)

    def collate(self, items: list[dict]) -> dict:
        return pair_batch(items, self.tokenizer.pad_token_id)

    def train_dataloader(self) -> DataLoader:
        # A seeded order whose position goes into checkpoints: exact mid-epoch resume, as for SFT.
        return ResumableLoader(
            self.pairs,
            batch_size=self.batch_size,
            seed=default_seed(),
            shuffle=True,
            collate_fn=self.collate,
            num_workers=self.num_workers,
        )

    def val_dataloader(self):
        return self.task_data.val_dataloader() if self.evaluates else []

    def test_dataloader(self):
        return self.task_data.test_dataloader() if self.evaluates else []

    def predict_dataloader(self):
        return self.task_data.predict_dataloader()
