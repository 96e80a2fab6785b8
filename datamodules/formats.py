"""Record formats: which one a file holds, and the example each record becomes.

A file's format is read from its first record (or set with `data_format`); every record after it
must fit the same format, and one that does not is an error naming its file and line. Formats:

- `messages`: `{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}`, a
  conversation with an optional system turn first (TRL's conversational prompt/completion, both
  lists of turns, is one too);
- `sharegpt`: `{"conversations": [{"from": "system"|"human"|"gpt", "value": ...}, ...]}`;
- `alpaca`: `{"instruction", "input" (optional), "output"}` (with a `system` field: a conversation);
- `prompt_completion`: `{"prompt", "completion"}` (the completion optional for `predict`);
- `mistral`: the reference experiment's `{"text": "<s>[INST] prompt [/INST] completion </s>"}`, Mistral's
  instruction format (`text`, its old name, is still accepted).

`Columns` names other columns: `prompt_column`/`completion_column` for prompt/completion data,
`messages_column` for a list of turns (role/content or from/value). Examples are either
`{"prompt", "completion", "reference", "where"}` or `{"messages", "reference", "where"}`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from datamodules.records import DataError, iter_records

DataFormat = Literal["auto", "messages", "sharegpt", "alpaca", "prompt_completion", "mistral", "text"]
FORMATS = ("messages", "sharegpt", "alpaca", "prompt_completion", "mistral")
RENAMED = {"text": "mistral"}  # old format names that still work

SEED_TEXT = re.compile(
    r"^\s*(?:<s>)?\s*\[INST\](?P<prompt>.*?)\[/INST\](?P<completion>.*?)(?:</s>)?\s*$", re.S
)
ROLES = ("system", "user", "assistant")
# ShareGPT's speakers (and the names other dumps use for them) -> roles.
SPEAKERS = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
}


@dataclass(frozen=True)
class Columns:
    """Where a record keeps its fields (the data module's `prompt_column`, ... arguments)."""

    prompt: str = "prompt"
    completion: str = "completion"
    messages: str | None = None  # None: "messages", or "conversations" (ShareGPT)


def _keys(record: dict) -> str:
    return f"keys: {sorted(record)}"


def _turn_list_column(record: dict, columns: Columns) -> str | None:
    if columns.messages is not None:
        return columns.messages if columns.messages in record else None
    return next((k for k in ("messages", "conversations") if k in record), None)


def _turns(record: dict, column: str, where: str) -> list:
    value = record[column]
    if isinstance(value, str) and value.lstrip().startswith("["):  # CSV cells hold the list as JSON
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: '{column}' is not valid JSON: {error.msg}") from None
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise DataError(f"{where}: '{column}' is {json.dumps(value, default=str)[:40]}, not a list of turns")
    return value


def detect(record: dict, columns: Columns) -> str | None:
    """The format a record is in, or None."""
    column = _turn_list_column(record, columns)
    if column is not None:
        turns = record[column]
        if isinstance(turns, str) and turns.lstrip().startswith("["):  # a CSV cell
            try:
                turns = json.loads(turns)
            except json.JSONDecodeError:
                pass  # `to_example` says what is wrong with it
        first = turns[0] if isinstance(turns, list) and turns and isinstance(turns[0], dict) else {}
        if "from" in first or (column == "conversations" and "role" not in first):
            return "sharegpt"
        return "messages"
    if columns.prompt in record:
        return "prompt_completion"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if "text" in record:
        return "mistral"
    return None


def _text(record: dict, key: str, where: str, optional: bool = False) -> str:
    if key not in record:
        raise DataError(f"{where}: no '{key}' ({_keys(record)})")
    value = record[key]
    if value is None and optional:
        return ""
    if isinstance(value, (dict, list)) or value is None:
        raise DataError(f"{where}: '{key}' is {json.dumps(value, default=str)[:40]}, not text")
    return str(value)


def check_messages(messages: list[dict], where: str) -> list[dict]:
    """Validated turns: known roles, text content, a system turn only first, a user turn before assistants."""
    out = []
    for number, turn in enumerate(messages, start=1):
        role = turn.get("role")
        if role not in ROLES:
            raise DataError(f"{where}: turn {number} has role {role!r}; roles are {', '.join(ROLES)}")
        content = turn.get("content")
        if not isinstance(content, str):
            raise DataError(
                f"{where}: turn {number} ({role}) has content {json.dumps(content, default=str)[:40]}, not "
                "text"
            )
        if role == "system" and number != 1:
            raise DataError(f"{where}: turn {number} is a system turn; only the first turn may be")
        out.append({"role": role, "content": content})
    spoken = [t["role"] for t in out if t["role"] != "system"]
    if not spoken:
        raise DataError(f"{where}: the conversation has no user or assistant turn")
    if spoken[0] != "user":
        raise DataError(f"{where}: the conversation starts with an assistant turn; a user turn comes first")
    return out


def _sharegpt(turns: list, where: str) -> list[dict]:
    messages = []
    for number, turn in enumerate(turns, start=1):
        speaker = str(turn.get("from", "")).lower()
        if speaker not in SPEAKERS:
            raise DataError(
                f"{where}: turn {number} is from {turn.get('from')!r}; ShareGPT speakers are "
                "system, human, gpt"
            )
        messages.append({"role": SPEAKERS[speaker], "content": turn.get("value")})
    return messages


def _conversation(record: dict, fmt: str, columns: Columns, where: str) -> list[dict] | None:
    """The record's turns in `messages` form, or None where it is prompt/completion data."""
    if fmt in ("messages", "sharegpt"):
        column = _turn_list_column(record, columns)
        if column is None:
            wanted = columns.messages or ("messages" if fmt == "messages" else "conversations")
            raise DataError(f"{where}: no '{wanted}' ({_keys(record)})")
        turns = _turns(record, column, where)
        return _sharegpt(turns, where) if fmt == "sharegpt" else turns
    if fmt == "prompt_completion" and isinstance(record.get(columns.prompt), list):
        # TRL's conversational prompt/completion: both lists of turns.
        completion = record.get(columns.completion) or []
        return _turns(record, columns.prompt, where) + (
            _turns(record, columns.completion, where) if completion else []
        )
    if fmt == "alpaca" and record.get("system"):
        return [
            {"role": "system", "content": _text(record, "system", where)},
            {"role": "user", "content": _alpaca_prompt(record, where)},
            {"role": "assistant", "content": _text(record, "output", where)},
        ]
    return None


def _alpaca_prompt(record: dict, where: str) -> str:
    instruction = _text(record, "instruction", where)
    extra = _text(record, "input", where, optional=True) if "input" in record else ""
    return f"{instruction}\n\n{extra}" if extra.strip() else instruction


def to_example(record: dict, where: str, fmt: str, columns: Columns = Columns()) -> dict:
    """A record in format `fmt` as an example; a record that does not fit raises DataError."""
    messages = _conversation(record, fmt, columns, where)
    if messages is not None:
        example = {"messages": check_messages(messages, where)}
    elif fmt == "prompt_completion":
        completion = record.get(columns.completion)
        example = {
            "prompt": _text(record, columns.prompt, where),
            "completion": "" if completion is None else _text(record, columns.completion, where),
        }
    elif fmt == "alpaca":
        example = {"prompt": _alpaca_prompt(record, where), "completion": _text(record, "output", where)}
    elif RENAMED.get(fmt, fmt) == "mistral":
        match = SEED_TEXT.match(_text(record, "text", where))
        if match is None:
            raise DataError(f"{where}: 'text' is not in the form '<s>[INST] prompt [/INST] completion </s>'")
        example = {"prompt": match["prompt"].strip(), "completion": match["completion"].strip()}
    else:
        raise ValueError(f"unknown data format {fmt!r}; formats: {', '.join(FORMATS)}")
    if "prompt" in example and not example["prompt"].strip():
        raise DataError(f"{where}: empty prompt")
    reference = record.get("reference")
    example["reference"] = None if reference is None else str(reference)
    example["where"] = where
    return example


def no_format(record: dict, where: str, columns: Columns) -> DataError:
    named = [f"'{c}'" for c in (columns.prompt, columns.completion, columns.messages) if c]
    return DataError(
        f"{where}: the record fits no format ({_keys(record)}): expected 'messages' (role/content turns), "
        f"'conversations' (ShareGPT from/value turns), 'instruction'+'output' (Alpaca), "
        f"{'+'.join(named[:2])} or 'text'; name other columns with data.init_args.prompt_column, "
        "completion_column or messages_column"
    )


def read_examples(
    source: str, split: str = "train", data_format: DataFormat = "auto", columns: Columns = Columns()
) -> list[dict]:
    """A source's examples, all in one format: `data_format`, or the first record's (`detect`)."""
    examples, fmt = [], None if data_format == "auto" else RENAMED.get(data_format, data_format)
    for record, where in iter_records(source, split):
        if fmt is None:
            fmt = detect(record, columns)
            if fmt is None:
                raise no_format(record, where, columns)
        try:
            examples.append(to_example(record, where, fmt, columns))
        except DataError as error:
            if examples and detect(record, columns) != fmt:  # a record unlike the ones before it
                how = "set by data_format" if data_format != "auto" else "read from its first record"
                raise DataError(f"{error} (the file is in the {fmt} format, {how})") from None
            raise
    if not examples:
        raise DataError(f"Data source {source!r} holds no examples")
    return examples
