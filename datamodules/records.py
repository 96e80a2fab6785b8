"""Reading examples from JSONL files or Hugging Face `datasets`, with errors that name the source.

An example is a dict with `prompt`, `completion`, optionally `reference`, and `where` (the source and
line it came from, for messages). Records come either as
`{"prompt", "completion"}` or in the reference experiment's single-text format
`{"text": "<s>[INST] 33 es igual a [/INST] cinco más tres </s>"}`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator, Optional

from modules.errors import UserInputError

SEED_TEXT = re.compile(r"^\s*(?:<s>)?\s*\[INST\](?P<prompt>.*?)\[/INST\](?P<completion>.*?)(?:</s>)?\s*$", re.S)


class DataError(UserInputError):
    """Bad input data; the message names the source (and line, for files)."""


def iter_jsonl(path: Path) -> Iterator[tuple[dict, str]]:
    """Yield (record, "file:line") for each non-blank line; bad lines raise DataError."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            where = f"{path}:{number}"
            try:  # a byte-order mark (some Windows editors write one) is not part of the first record
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                problem = f"not valid UTF-8 ({error.reason} at byte {error.start} of the line)"
                raise DataError(f"{where}: {problem}; save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                # The last line with no newline and broken JSON: the file was cut off (an interrupted copy).
                cut = " (the file ends inside this record: truncated?)" if not raw.endswith(b"\n") else ""
                problem = f"not valid JSON: {error.msg} (column {error.pos + 1}){cut}"
                raise DataError(f"{where}: {problem}") from None
            if not isinstance(record, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
            yield record, where


def iter_records(source: str, split: str = "train") -> Iterator[tuple[dict, str]]:
    """Records from a JSONL/JSON file, another local data file, or a `datasets` name.

    Args:
        source: a path, or a `load_dataset` name optionally followed by ":split" ("org/data:test").
        split: the split to read from a `datasets` source when the name gives none.
    """
    path = Path(source).expanduser()
    if path.suffix in (".jsonl", ".json") or path.exists():
        if not path.exists():
            raise DataError(f"Data file {source!r} does not exist")
        if path.is_dir():
            raise DataError(f"Data source {source!r} is a directory; give a JSONL file")
        if path.suffix in (".jsonl", ".json"):
            yield from iter_jsonl(path)
            return
        yield from _iter_dataset(path.suffix.lstrip("."), split, data_files=str(path), label=source)
        return
    name, _, named_split = source.partition(":")
    yield from _iter_dataset(name, named_split or split, label=source)


def _iter_dataset(name: str, split: str, data_files: Optional[str] = None, label: str = "") -> Iterator:
    import datasets

    try:
        dataset = datasets.load_dataset(name, data_files=data_files, split=split)
    except Exception as error:  # datasets raises many types; all mean "cannot read this source"
        raise DataError(f"Could not load dataset {label!r} (split {split!r}): {error}") from error
    for index, record in enumerate(dataset):
        yield dict(record), f"{label}[{index}]"


def _text_field(record: dict, key: str, where: str) -> str:
    value = record[key]
    if isinstance(value, (dict, list)) or value is None:
        raise DataError(f"{where}: '{key}' is {json.dumps(value)[:40]}, not text")
    return str(value)


def to_example(record: dict, where: str) -> dict:
    """Normalise a record to {prompt, completion, reference, where}."""
    if "prompt" in record:
        completion = _text_field(record, "completion", where) if record.get("completion") is not None else ""
        example = {"prompt": _text_field(record, "prompt", where), "completion": completion}
    elif "text" in record:
        match = SEED_TEXT.match(str(record["text"]))
        if match is None:
            raise DataError(f"{where}: 'text' is not in the form '<s>[INST] prompt [/INST] completion </s>'")
        example = {"prompt": match["prompt"].strip(), "completion": match["completion"].strip()}
    else:
        raise DataError(f"{where}: record has neither 'prompt' nor 'text' (keys: {sorted(record)})")
    if not example["prompt"].strip():
        raise DataError(f"{where}: empty prompt")
    reference = record.get("reference")
    example["reference"] = None if reference is None else str(reference)
    example["where"] = where
    return example


def read_examples(source: str, split: str = "train") -> list[dict]:
    examples = [to_example(record, where) for record, where in iter_records(source, split)]
    if not examples:
        raise DataError(f"Data source {source!r} holds no examples")
    return examples


def write_jsonl(path: str, records: list[dict]) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
