"""The shared data module for prompt -> completion and chat tasks: read, render, tokenize, mask, batch.

A task's data module supplies its examples (`generate_examples`) and how they are scored (`own_task`, a
`modules.task.Task`: evaluation sets, its metric and per-example score, reference); everything about
formats, prompts, conversations, labels and padding lives here, and so do the metrics a config names
(`metrics`), which `task` adds to the task's own.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from datamodules.batches import pack_batch, pad_batch
from datamodules.chat import AssistantTurns, conversation_item
from datamodules.distributed import eval_sampler
from datamodules.formats import Columns, DataFormat, read_examples
from datamodules.length_grouped import LengthGroupedSampler
from datamodules.metrics import MetricSpec, NamedMetrics
from datamodules.preflight import preflight, warn_cut
from datamodules.records import DataError
from datamodules.resumable import ResumableLoader, default_seed
from modules.loss import IGNORE_INDEX
from modules.task import Task
from modules.tokenizer import load_tokenizer


class PromptCompletionDataModule(L.LightningDataModule):
    """Prompt -> completion data with the loss on the completion, or conversations with the loss on
    the assistant turns (`datamodules.chat`); files in any format of `datamodules.formats`.

    Args:
        tokenizer: the model source whose tokenizer renders the data; linked from `model.model`.
        train_file: training data: JSONL, JSON, CSV, Parquet, a `save_to_disk` folder or a
            `datasets` name ("org/name:split"); None generates it.
        val_file: validation data; None generates it. Its examples' last assistant turn (or
            completion) is the reference generations are scored against.
        test_file: test data; None generates it.
        predict_file: prompts for `predict`: prompt/completion records (the completion optional) or
            conversations, which `predict` continues with an assistant turn.
        batch_size: training batch size.
        eval_batch_size: batch size for validation/test/predict generation; None uses batch_size.
        max_length: longest tokenized example; longer ones are cut from the end, with a warning (an
            example whose whole completion would be cut is an error).
        chat_template: render prompts with the tokenizer's chat template; None uses it when present; a
            string is a Jinja chat template (or a `.jinja` file) to use instead of the tokenizer's.
            Conversations always need one.
        num_workers: DataLoader workers.
        trust_remote_code: allow tokenizer code from the hub; linked from `model.trust_remote_code`.
        group_by_length: batch training examples of similar length together (less padding, in an
            order fixed by the seed: `LengthGroupedSampler`); False draws batches uniformly at random.
        data_format: the records' format (`datamodules.formats`): "auto" reads it from each file's
            first record; "messages", "sharegpt", "alpaca", "prompt_completion" or "mistral" (old name
            "text") insist.
        prompt_column: the field holding the prompt (prompt/completion data).
        completion_column: the field holding the completion.
        messages_column: the field holding a conversation's turns (role/content or ShareGPT's
            from/value); None: "messages" or "conversations".
        assistant_turns: which assistant turns of a conversation train: "all", or only the "last".
        metrics: metrics on the generated text of every evaluation set, beside the task's own
            (`datamodules.metrics`): built-in names ("exact_match", "chrf", ...), a built-in with
            settings ({name: regex_match, pattern: ...}), or a class_path to a torchmetrics Metric
            or a scoring function `(prediction, reference) -> float`.
        packing: training batches without padding (`datamodules.batches.pack_batch`): a batch's examples
            end to end in one row, positions restarting at each example, attention kept inside each
            example; the same examples per step and the same loss (tests/test_packing.py). Evaluation
            batches are unchanged.
    """

    def __init__(
        self,
        tokenizer: str = "smollm2-135m-instruct",
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        max_length: int = 256,
        chat_template: bool | str | None = None,
        num_workers: int = 0,
        trust_remote_code: bool = False,
        group_by_length: bool = True,
        data_format: DataFormat = "auto",
        prompt_column: str = "prompt",
        completion_column: str = "completion",
        messages_column: str | None = None,
        assistant_turns: AssistantTurns = "all",
        metrics: list[str | dict[str, Any]] | None = None,
        packing: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters()  # recorded in checkpoints: `lit export` rebuilds the data from them
        self.tokenizer_source = tokenizer
        self.files = {"train": train_file, "val": val_file, "test": test_file, "predict": predict_file}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.max_length = max_length
        self.chat_template = chat_template
        self.num_workers = num_workers
        self.trust_remote_code = trust_remote_code
        self.group_by_length = group_by_length
        self.data_format = data_format
        self.columns = Columns(prompt_column, completion_column, messages_column)
        if assistant_turns not in ("all", "last"):
            raise ValueError(f"assistant_turns must be 'all' or 'last', got {assistant_turns!r}")
        self.assistant_turns = assistant_turns
        self.metric_specs = [MetricSpec.parse(spec) for spec in metrics or []]  # bad names fail here
        self.named_metrics = NamedMetrics(self.metric_specs) if self.metric_specs else None
        self.packing = packing
        self.own_task = Task()  # a task's data module sets its own: sets, metric, score, reference
        self.tokenizer = None
        self.datasets: dict[str, list[dict]] = {}
        self.checked = False  # the pre-flight runs once, at the first `fit` setup

    # ---------------------------------------------------------------- the task
    def generate_examples(self, split: str) -> list[dict]:
        """Examples for a split that has no file; tasks without a generator need files."""
        raise DataError(f"{type(self).__name__} has no generator: set `{split}_file`")

    @property
    def task(self) -> Task:
        """The task's scoring with the configured `metrics` added (`modules.task`: what the model reads)."""
        own, named = self.own_task, self.named_metrics
        if named is None:
            return own

        def metric():  # one Metric logging the task's keys and every configured metric's
            return named.build(own.build_metric())

        def score(completion: str, reference: str) -> dict[str, float]:
            value = own.score_of(completion, reference)
            return {**({"score": value} if value is not None else {}), **named.scores(completion, reference)}

        return Task(eval_sets=own.eval_sets, metric=metric, score=score, reference=own.reference)

    # ---------------------------------------------------------------- rendering
    def ready_tokenizer(self):
        """The tokenizer, loaded once."""
        if self.tokenizer is None:
            self.tokenizer = load_tokenizer(self.tokenizer_source, trust_remote_code=self.trust_remote_code)
        return self.tokenizer

    def prepare_split(self, split: str) -> list[dict]:
        """A split's tokenized examples, read (or generated) and tokenized once."""
        self.ready_tokenizer()
        if split not in self.datasets:
            self.datasets[split] = self.tokenize_all(self.load_examples(split), split)
        return self.datasets[split]

    def setup(self, stage: str) -> None:
        splits = {
            "fit": ["train", *self.own_task.eval_sets["validate"]],
            "validate": self.own_task.eval_sets["validate"],
            "test": self.own_task.eval_sets["test"],
            "predict": ["predict"],
        }[stage]
        for split in splits:
            if split not in self.datasets:
                self.prepare_split(split)
                if stage != "fit":  # fit's splits get the whole pre-flight below
                    warn_cut(self.datasets[split], split, self.max_length)
        if stage == "fit" and not self.checked:
            preflight(self, splits)  # before the model loads: bad data fails in seconds
            self.checked = True

    def load_examples(self, split: str) -> list[dict]:
        source = self.files.get(split)
        if source is None:
            if split == "predict":
                raise DataError(
                    "predict needs `data.predict_file`: records with `prompt` (and `reference`), "
                    "or conversations (`messages`) to continue"
                )
            examples = self.generate_examples(split)
        else:
            split_name = "validation" if split == "val" else split
            examples = read_examples(source, split_name, self.data_format, self.columns)
        if not examples:
            raise DataError(f"The {split} set is empty")
        return examples

    @cached_property
    def template_text(self) -> str | None:
        """The configured Jinja chat template, or None: the tokenizer's."""
        if not isinstance(self.chat_template, str):
            return None
        if self.chat_template.endswith(".jinja"):
            return Path(self.chat_template).expanduser().read_text(encoding="utf-8")
        return self.chat_template

    @property
    def uses_chat_template(self) -> bool:
        if isinstance(self.chat_template, str):
            return True
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if self.chat_template and not has_template:
            raise ValueError(f"chat_template is on but tokenizer {self.tokenizer_source!r} has none")
        return has_template if self.chat_template is None else self.chat_template

    def render_prompt(self, prompt: str) -> str:
        """The text the model sees before its answer, special tokens included."""
        if self.uses_chat_template:
            messages = [{"role": "user", "content": prompt}]
            return self.tokenizer.apply_chat_template(
                messages, chat_template=self.template_text, add_generation_prompt=True, tokenize=False
            )
        # The reference experiment's raw format; a BOS only where the tokenizer has one distinct from EOS (not
        # GPT-2).
        tok = self.tokenizer
        bos = tok.bos_token if tok.bos_token and tok.bos_token != tok.eos_token else ""
        return f"{bos}[INST] {prompt} [/INST]"

    def _encode(self, text: str) -> list[int]:
        # Special tokens are already in the rendered text; adding them again would double the BOS.
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode_pair(self, prompt: str, completion: str) -> tuple[list[int], list[int]]:
        """(rendered prompt ids, completion ids ending with EOS), uncut: how a completion follows its prompt,
        for SFT as for preference pairs (`datamodules.preference_pairs`)."""
        prompt_text = self.render_prompt(prompt)
        prompt_ids = self._encode(prompt_text)
        # The reference experiment's "[/INST] cinco": one space after the prompt unless the template ends in
        # whitespace.
        separator = "" if prompt_text[-1:].isspace() else " "
        full_ids = self._encode(prompt_text + separator + completion) if completion else prompt_ids
        if full_ids[: len(prompt_ids)] == prompt_ids:
            completion_ids = full_ids[len(prompt_ids) :]
        else:  # a merge across the boundary: keep the prompt as generation will see it
            completion_ids = self._encode(separator + completion)
        eos = self.tokenizer.eos_token_id
        if eos is None:
            raise DataError(f"tokenizer {self.tokenizer_source!r} has no EOS token to end completions with")
        return prompt_ids, completion_ids + [eos]

    def tokenize(self, example: dict) -> dict:
        """Token ids with labels masked on the prompt and a trained EOS ending the completion; a
        conversation's trained spans are its assistant turns (`tokenize_chat`)."""
        if "messages" in example:
            return self.tokenize_chat(example)
        prompt_ids, completion_ids = self.encode_pair(example["prompt"], example["completion"])
        input_ids = prompt_ids + completion_ids
        labels = [IGNORE_INDEX] * len(prompt_ids) + completion_ids
        return {
            "input_ids": input_ids[: self.max_length],
            "labels": labels[: self.max_length],
            "prompt_ids": prompt_ids,
            "prompt": example["prompt"],
            "reference": self.own_task.reference(example),
            "truncated": len(input_ids) > self.max_length,
            "length": len(input_ids),
            "where": example.get("where", "generated"),
            "spans": [(len(prompt_ids), len(input_ids))],  # the trained tokens
        }

    def tokenize_chat(self, example: dict) -> dict:
        """A conversation: trained assistant turns (`assistant_turns`), the last answer the reference."""
        where = example.get("where", "generated")
        if not self.uses_chat_template:
            raise DataError(
                f"{where}: a conversation needs a chat template, and tokenizer {self.tokenizer_source!r} has "
                "none (or chat_template is off): set data.init_args.chat_template to a Jinja template"
            )
        return conversation_item(
            self.tokenizer,
            example,
            self.assistant_turns,
            self.template_text,
            self.max_length,
            self.own_task.reference,
        )

    def tokenize_all(self, examples: list[dict], split: str) -> list[dict]:
        items = []
        for number, example in enumerate(examples, start=1):
            item = self.tokenize(example)
            if item["where"] == "generated":
                item["where"] = f"generated {split} example {number}"
            items.append(item)
        return items

    # ---------------------------------------------------------------- batching
    def collate(self, items: list[dict]) -> dict:
        return pad_batch(items, self.tokenizer.pad_token_id)

    def collate_packed(self, items: list[dict]) -> dict:
        return pack_batch(items)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split == "train":  # a seeded order whose position goes into checkpoints: exact mid-epoch resume
            seed, sampler = default_seed(), None
            if shuffle and self.group_by_length:
                lengths = [len(item["input_ids"]) for item in self.datasets[split]]
                sampler = LengthGroupedSampler(lengths, self.batch_size, seed=seed)
            return ResumableLoader(
                self.datasets[split],
                batch_size=self.batch_size,
                seed=seed,
                shuffle=shuffle,
                sampler=sampler,
                collate_fn=self.collate_packed if self.packing else self.collate,
                num_workers=self.num_workers,
            )
        return DataLoader(
            self.datasets[split],
            batch_size=self.eval_batch_size,
            sampler=eval_sampler(self.datasets[split]),
            collate_fn=self.collate,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(0),  # not the global RNG that dropout draws from
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self):
        loaders = [self._loader(name, shuffle=False) for name in self.own_task.eval_sets["validate"]]
        return loaders[0] if len(loaders) == 1 else loaders

    def test_dataloader(self):
        loaders = [self._loader(name, shuffle=False) for name in self.own_task.eval_sets["test"]]
        return loaders[0] if len(loaders) == 1 else loaders

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", shuffle=False)
