"""Reading records from data files and Hugging Face `datasets`, with errors that name the source.

A record is a dict as the source holds it; `datamodules.formats` turns it into an example. Every
record comes with `where`, the place a message about it names: "file:line" for JSONL and CSV,
"file[row]" for a JSON array, Parquet or a `datasets` source (rows count from 0).

Sources: JSONL (`.jsonl`, or `.json` holding one object a line), a JSON array (`.json`), CSV/TSV,
Parquet, a folder written by `datasets`' `save_to_disk`, a folder of data files, another file type
`datasets` reads (`.arrow`, ...), or a `datasets` name with an optional split ("org/data:test").
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from modules.errors import UserInputError


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


def _starts_with_bracket(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()
    return head.startswith("[")


def iter_json_array(path: Path) -> Iterator[tuple[dict, str]]:
    """A `.json` file holding one array of objects (Alpaca's `alpaca_data.json` is one)."""
    try:
        records = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a valid JSON array: {error}") from None
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{path}[{index}]: expected a JSON object, got {type(record).__name__}")
        yield record, f"{path}[{index}]"


def iter_csv(path: Path) -> Iterator[tuple[dict, str]]:
    """CSV (or TSV) with a header row; "file:line" names the line a record starts on."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",")
            start = 2  # the line after the header
            for row in reader:
                where = f"{path}:{start}"
                start = reader.line_num + 1  # a quoted field may span lines
                if None in row:
                    raise DataError(f"{where}: more fields than the header names ({len(reader.fieldnames)})")
                yield {k: v for k, v in row.items() if k is not None}, where
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not valid UTF-8 ({error.reason}); save the file as UTF-8") from None
    except csv.Error as error:
        raise DataError(f"{path}: not valid CSV: {error}") from None


def iter_parquet(path: Path) -> Iterator[tuple[dict, str]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types; all mean "cannot read this file"
        raise DataError(f"{path}: not a readable Parquet file: {error}") from None
    for index, record in enumerate(table.to_pylist()):
        yield record, f"{path}[{index}]"


def is_saved_dataset(path: Path) -> bool:
    """A folder written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk`."""
    return (path / "dataset_dict.json").exists() or (path / "state.json").exists()


def iter_saved_dataset(path: Path, split: str) -> Iterator[tuple[dict, str]]:
    import datasets

    try:
        dataset = datasets.load_from_disk(str(path))
    except Exception as error:  # datasets raises many types; all mean "cannot read this folder"
        raise DataError(f"Could not load the saved dataset {str(path)!r}: {error}") from error
    label = str(path)
    if isinstance(dataset, datasets.DatasetDict):
        dataset, named = _pick_split(dataset, split, label)
        label = f"{path}:{named}"
    for index, record in enumerate(dataset):
        yield dict(record), f"{label}[{index}]"


# What a split is called elsewhere: lit's `val` is often `validation`, and the reverse.
SPLIT_NAMES = {
    "validation": ("validation", "val", "valid", "dev"),
    "val": ("val", "validation", "valid", "dev"),
}


def _pick_split(splits, split: str, label: str):
    for name in SPLIT_NAMES.get(split, (split,)):
        if name in splits:
            return splits[name], name
    raise DataError(f"Dataset {label!r} has no {split!r} split (it has: {', '.join(splits)})")


def iter_records(source: str, split: str = "train") -> Iterator[tuple[dict, str]]:
    """Records from a data file, a dataset folder, or a `datasets` name.

    Args:
        source: a path, or a `load_dataset` name optionally followed by ":split" ("org/data:test").
        split: the split to read from a `datasets` source when the name gives none.
    """
    path = Path(source).expanduser()
    if path.suffix in (".jsonl", ".json", ".csv", ".tsv", ".parquet") or path.exists():
        if not path.exists():
            raise DataError(f"Data file {source!r} does not exist")
        if path.is_dir():
            if is_saved_dataset(path):
                yield from iter_saved_dataset(path, split)
            else:  # a folder of data files, as `load_dataset(folder)` reads it
                yield from _iter_dataset(str(path), split, label=source)
        elif path.suffix == ".json" and _starts_with_bracket(path):
            yield from iter_json_array(path)
        elif path.suffix in (".jsonl", ".json"):
            yield from iter_jsonl(path)
        elif path.suffix in (".csv", ".tsv"):
            yield from iter_csv(path)
        elif path.suffix == ".parquet":
            yield from iter_parquet(path)
        else:
            yield from _iter_dataset(path.suffix.lstrip("."), split, data_files=str(path), label=source)
        return
    name, _, named_split = source.partition(":")
    yield from _iter_dataset(name, named_split or split, label=source)


def _iter_dataset(name: str, split: str, data_files: str | None = None, label: str = "") -> Iterator:
    import datasets

    # One data file is one split, whatever lit calls it; a name or folder may call `val` `validation`.
    candidates = ("train",) if data_files else SPLIT_NAMES.get(split, (split,))
    for candidate in candidates:
        try:
            dataset = datasets.load_dataset(name, data_files=data_files, split=candidate)
            break
        except ValueError as error:
            if "Unknown split" in str(error) and candidate != candidates[-1]:
                continue
            raise DataError(f"Could not load dataset {label!r} (split {split!r}): {error}") from error
        except Exception as error:  # datasets raises many types; all mean "cannot read this source"
            raise DataError(f"Could not load dataset {label!r} (split {split!r}): {error}") from error
    if not data_files and ":" not in label:  # name the split read: "org/data:validation[3]"
        label = f"{label}:{candidate}"
    for index, record in enumerate(dataset):
        yield dict(record), f"{label}[{index}]"


def write_jsonl(path: str, records: list[dict]) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
