"""Preference records ({"prompt", "chosen", "rejected"}) as checked, tokenized pairs.

A record is plain (three strings) or conversational (TRL's format: the prompt a list of turns ending with a
user turn, each response a list holding one assistant turn, or a string). Both responses render exactly as
SFT renders a completion (`PromptCompletionDataModule`): after the rendered prompt, ending with a trained
EOS; a conversation through the chat template, the response being the last assistant turn. Every problem
is one line naming the record's file and line (or row): a missing key, an empty response, the same
response twice, a prompt that renders differently before the two responses, or a pair `max_length` cannot
keep apart.

Too long a pair keeps the prompt's end (the question next to the answer) and the responses' start (where a
mistake usually shows first): the prompt keeps up to `max_length` - the longer response, but at least half
of `max_length`, and the responses what is left.
"""

from __future__ import annotations

import json

from datamodules.chat import TemplateError, tokenize_conversation
from datamodules.formats import check_messages
from datamodules.records import DataError
from modules.loss import IGNORE_INDEX

KEYS = ("prompt", "chosen", "rejected")
RESPONSES = ("chosen", "rejected")


def _value(record: dict, key: str, where: str):
    value = record.get(key)
    if key not in record or value is None:
        raise DataError(
            f"{where}: no '{key}': a preference record has 'prompt', 'chosen' and 'rejected' "
            f"(keys: {sorted(record)})"
        )
    if isinstance(value, str) and value.lstrip().startswith("[{"):  # a CSV cell holding turns as JSON
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass  # plain text that happens to start so
    return value


def _response_turn(value, key: str, where: str) -> dict:
    """A conversational record's response: one assistant turn (a string is taken as its content)."""
    if isinstance(value, str):
        return {"role": "assistant", "content": value}
    turns = value if isinstance(value, list) else [value]
    if len(turns) != 1 or not isinstance(turns[0], dict) or turns[0].get("role") != "assistant":
        shown = json.dumps(value, default=str)[:60]
        raise DataError(f"{where}: '{key}' must be one assistant turn ({shown})")
    if not isinstance(turns[0].get("content"), str):
        raise DataError(f"{where}: '{key}' has no text content")
    return {"role": "assistant", "content": turns[0]["content"]}


def pair_of(record: dict, where: str) -> dict:
    """The checked pair of a record: {"prompt", "chosen", "rejected", "where"}, the prompt a string or
    a list of turns and each response a string (a conversation's: the assistant turn's content)."""
    prompt, chosen, rejected = (_value(record, key, where) for key in KEYS)
    if isinstance(prompt, list):
        prompt = check_messages(prompt, where)
        if prompt[-1]["role"] != "user":
            last = prompt[-1]["role"]
            raise DataError(f"{where}: the prompt's last turn is {last!r}; it must be the user's")
        responses = [_response_turn(v, k, where)["content"] for k, v in zip(RESPONSES, (chosen, rejected))]
    else:
        for key, value in zip(KEYS, (prompt, chosen, rejected)):
            if not isinstance(value, str):
                raise DataError(f"{where}: '{key}' is {json.dumps(value, default=str)[:40]}, not text")
        responses = [chosen, rejected]
    for key, text in zip(RESPONSES, responses):
        if not text.strip():
            raise DataError(f"{where}: '{key}' is empty")
    if responses[0].strip() == responses[1].strip():
        raise DataError(f"{where}: 'chosen' and 'rejected' are the same response; a pair needs two")
    return {"prompt": prompt, "chosen": responses[0], "rejected": responses[1], "where": where}


def plain_ids(renderer, prompt: str, response: str) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids ending with EOS) exactly as SFT tokenizes a prompt and its completion."""
    return renderer.encode_pair(prompt, response)


def chat_ids(renderer, prompt: list[dict], response: str, where: str) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids) of the conversation ending with the response, through the chat template."""
    messages = [*prompt, {"role": "assistant", "content": response}]
    try:
        out = tokenize_conversation(renderer.tokenizer, messages, "last", renderer.template_text)
    except TemplateError as error:
        raise DataError(f"{where}: {error}") from None
    start = out["spans"][-1][0]
    return out["input_ids"][:start], out["input_ids"][start:]


def _first_difference(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def tokenize_pair(renderer, pair: dict, max_length: int) -> dict:
    """Token ids and labels (the response only) of both sides, cut to `max_length` as the module says.

    Args:
        renderer: the data module whose rendering SFT uses (`PromptCompletionDataModule`), tokenizer loaded.
    """
    where = pair["where"]
    if not renderer.uses_chat_template and isinstance(pair["prompt"], list):
        raise DataError(f"{where}: a conversational prompt needs a chat template; this tokenizer has none")
    sides = {}
    for key in RESPONSES:
        if isinstance(pair["prompt"], list):
            sides[key] = chat_ids(renderer, pair["prompt"], pair[key], where)
        else:
            sides[key] = plain_ids(renderer, pair["prompt"], pair[key])
    prompt_ids = sides["chosen"][0]
    if sides["rejected"][0] != prompt_ids:
        at, decode = _first_difference(prompt_ids, sides["rejected"][0]), renderer.tokenizer.decode
        raise DataError(
            f"{where}: the prompt renders differently before 'chosen' and before 'rejected' (from token "
            f"{at + 1}: {decode(prompt_ids[at : at + 5])!r} vs "
            f"{decode(sides['rejected'][0][at : at + 5])!r}); "
            "the two must share one prompt"
        )
    chosen, rejected = sides["chosen"][1], sides["rejected"][1]
    longest = max(len(chosen), len(rejected))
    keep_prompt = min(len(prompt_ids), max(max_length - longest, max_length // 2))
    budget = max_length - keep_prompt
    kept_prompt = prompt_ids[len(prompt_ids) - keep_prompt :]
    kept_chosen, kept_rejected = chosen[:budget], rejected[:budget]
    cut = len(prompt_ids) + longest > max_length
    if kept_chosen == kept_rejected:
        at = _first_difference(chosen, rejected)
        why = (
            f"with max_length={max_length} the pair keeps the prompt's last {keep_prompt} tokens and each "
            f"response's first {budget}, and the responses differ only from token {at + 1}: "
            "raise data.max_length"
            if cut
            else "'chosen' and 'rejected' tokenize the same"
        )
        raise DataError(f"{where}: {why}")
    return {
        "chosen_ids": kept_prompt + kept_chosen,
        "chosen_labels": [IGNORE_INDEX] * keep_prompt + kept_chosen,
        "rejected_ids": kept_prompt + kept_rejected,
        "rejected_labels": [IGNORE_INDEX] * keep_prompt + kept_rejected,
        "length": len(prompt_ids) + longest,
        "truncated": cut,
        "where": where,
    }
