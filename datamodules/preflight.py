"""Checks on the tokenized data before any training: what the model will see, and what would go wrong.

Run by the prompt-completion data module when `fit` sets up (the Java corpus only shows a block):
one rendered, tokenized example with its label mask; one BOS at the start; a trained EOS ending
every completion and nothing after it; no completion cut away by `max_length` (cut examples are
counted, an entirely cut completion is an error); no empty completion to train on. Conversations
are checked turn by turn: every trained assistant turn ends with the template's end-of-turn token,
which must be the EOS generation stops at, trained; no system prompt among the trained tokens; an
assistant turn in every training and evaluation conversation; references the configured metrics
can score. Each error names the example's source and line.
"""

from __future__ import annotations

from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from datamodules.records import DataError

IGNORE_INDEX = -100
SHOWN = 3  # examples named in one message


def _named(bad: list[dict], total: int, split: str) -> str:
    names = ", ".join(item["where"] for item in bad[:SHOWN])
    more = f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    return f"{len(bad)} of {total} {split} examples ({names}{more})"


def tokenizer_adds_bos(tokenizer) -> bool:
    """Whether the tokenizer puts a BOS in front of plain text: the model was trained with one."""
    bos = tokenizer.bos_token_id
    return bos is not None and bos != tokenizer.eos_token_id and tokenizer("a")["input_ids"][:1] == [bos]


def leading_bos(input_ids: list[int], tokenizer) -> int:
    """How many BOS tokens open the sequence (0 where the tokenizer has none distinct from EOS)."""
    bos = tokenizer.bos_token_id
    if bos is None or bos == tokenizer.eos_token_id:
        return 0
    count = 0
    while count < len(input_ids) and input_ids[count] == bos:
        count += 1
    return count


def check_items(items: list[dict], split: str, tokenizer, max_length: int, train: bool) -> None:
    """Raise DataError on examples that cannot train as meant; warn about examples cut short.

    Each item's `spans` are its trained token ranges (the completion, or each trained assistant turn).
    """
    eos, total = tokenizer.eos_token_id, len(items)
    unanswered = [i for i in items if not i["spans"]]
    if unanswered:
        raise DataError(
            f"{_named(unanswered, total, split)}: the conversation has no assistant turn to "
            f"{'train on' if train else 'score'}"
        )
    cut_away = [i for i in items if i["truncated"] and i["spans"][0][0] >= max_length]
    if cut_away:
        longest = max(i["spans"][0][0] for i in cut_away)
        raise DataError(
            f"{_named(cut_away, total, split)}: the prompt alone is up to {longest} tokens, so "
            f"max_length={max_length} cuts away the whole completion; "
            "raise data.max_length or shorten the prompts"
        )
    bos_expected = tokenizer_adds_bos(tokenizer)
    doubled = [i for i in items if leading_bos(i["input_ids"], tokenizer) > 1]
    if doubled:
        raise DataError(
            f"{_named(doubled, total, split)}: start with more than one BOS token ({tokenizer.bos_token!r}); "
            "the prompt template and the data both add one"
        )
    if bos_expected:
        missing = [i for i in items if leading_bos(i["input_ids"], tokenizer) == 0]
        if missing:
            raise DataError(
                f"{_named(missing, total, split)}: do not start with the BOS token {tokenizer.bos_token!r} "
                "that this tokenizer's model expects"
            )
    check_turn_ends(items, split, tokenizer, max_length)
    bad_end, inner_eos, empty = [], [], []
    for item in items:
        labels, trained = item["labels"], [t for t in item["labels"] if t != IGNORE_INDEX]
        if not item["truncated"] and (not trained or trained[-1] != eos or item["input_ids"][-1] != eos):
            bad_end.append(item)
        for start, end in item["spans"]:
            if start >= max_length:
                break
            # An EOS inside a span, before its own last token (cut off by max_length: anywhere), is inner.
            if eos in (labels[start:max_length] if end > max_length else labels[start : end - 1]):
                inner_eos.append(item)
                break
        if train and any(labels[a:b] == [eos] for a, b in item["spans"] if b <= max_length):
            empty.append(item)
    if bad_end:
        raise DataError(
            f"{_named(bad_end, total, split)}: do not end with a trained EOS token "
            f"({tokenizer.eos_token!r}); the model would never learn to stop"
        )
    if inner_eos:
        raise DataError(
            f"{_named(inner_eos, total, split)}: the completion itself contains the EOS token "
            f"{tokenizer.eos_token!r} (lit adds the one that ends it); generation would stop there. "
            "Remove it from the data"
        )
    if empty:
        raise DataError(f"{_named(empty, total, split)}: empty completion, nothing to train on but the EOS")
    system = [i for i in items if i.get("system_trained")]
    if system:
        raise DataError(
            f"{_named(system, total, split)}: the system prompt is among the trained tokens; "
            "the chat template writes it inside an assistant turn"
        )
    warn_cut(items, split, max_length)


def check_turn_ends(items: list[dict], split: str, tokenizer, max_length: int) -> None:
    """Every conversation's trained assistant turns end with the EOS token, the one generation stops at."""
    eos = tokenizer.eos_token_id
    for item in items:
        if "messages" not in item:
            continue
        for number, (start, end) in enumerate(item["spans"], start=1):
            if end > max_length:
                break
            last = item["input_ids"][end - 1]
            if last != eos:
                ends = tokenizer.decode(item["input_ids"][max(start, end - 3) : end])
                raise DataError(
                    f"{item['where']}: trained assistant turn {number} of the {split} conversation ends with "
                    f"{ends!r}, not with the EOS token {tokenizer.eos_token!r} that generation stops at: the "
                    "chat template's end-of-turn token must be the tokenizer's EOS (set `eos_token` in the "
                    "model's tokenizer_config.json to the template's end-of-turn token)"
                )


def check_references(items: list[dict], split: str, named_metrics) -> None:
    """Every evaluation example has a reference the configured metrics can score."""
    if named_metrics is None:
        return
    for item in items:
        problems = named_metrics.reference_problems(item["reference"])
        if problems:
            raise DataError(f"{item['where']}: the {split} example's {problems[0]}")


def warn_cut(items: list[dict], split: str, max_length: int) -> None:
    """Count and name the examples that `max_length` cuts short."""
    cut = [i for i in items if i["truncated"]]
    if cut:
        rank_zero_warn(
            f"{_named(cut, len(items), split)} are longer than max_length={max_length} (up to "
            f"{max(i['length'] for i in cut)} tokens): the end of their completion and its EOS are cut off"
        )


def check_batch(batch: dict, tokenizer) -> None:
    """The collated batch keeps the prompt masked and each row's final EOS trained (pad may equal EOS)."""
    lengths = batch["attention_mask"].sum(1).tolist()
    for row, length in enumerate(lengths):
        labels = batch["labels"][row]
        if (
            batch["input_ids"][row, length - 1] == tokenizer.eos_token_id
            and labels[length - 1] == IGNORE_INDEX
        ):
            raise DataError(
                "the batch masks out the EOS that ends each completion (label -100): with the pad token "
                "equal to EOS, padding must be masked by position (attention mask), not by token id"
            )
        if labels[0] != IGNORE_INDEX:
            raise DataError(
                "the batch trains on the first prompt token: the prompt is not masked out of the loss"
            )


def describe(item: dict, tokenizer, split: str, index: int, total: int) -> str:
    """One tokenized example as text: the rendering, then its tokens ("|" between) split by the label mask."""
    pieces = [tokenizer.decode([t]).replace("\n", "\\n") for t in item["input_ids"]]
    masked = [p for p, label in zip(pieces, item["labels"]) if label == IGNORE_INDEX]
    trained = [p for p, label in zip(pieces, item["labels"]) if label != IGNORE_INDEX]
    return (
        f"lit: pre-flight, {split} example {index + 1} of {total} ({item['where']}): {len(pieces)} tokens, "
        f"{len(trained)} trained\n"
        f"  rendered:         {tokenizer.decode(item['input_ids'])!r}\n"
        f"  masked (prompt):  {'|'.join(masked)}\n"
        f"  trained (labels): {'|'.join(trained)}"
    )


def check_all(datamodule, splits: list[str]) -> None:
    """Every check on every split `fit` uses; the first problem raises DataError."""
    tokenizer, max_length = datamodule.tokenizer, datamodule.max_length
    for split in splits:
        check_items(datamodule.datasets[split], split, tokenizer, max_length, train=split == "train")
        if split != "train":
            check_references(datamodule.datasets[split], split, getattr(datamodule, "named_metrics", None))
    train = datamodule.datasets["train"]
    check_batch(datamodule.collate(train[: datamodule.batch_size]), tokenizer)


def distinct(items: list[dict]) -> str:
    """ " (6 distinct)" where an evaluation set repeats a prompt: a held-out figure counts distinct items."""
    count = len({tuple(i.get("prompt_ids") or i["input_ids"]) for i in items})
    return f" ({count} distinct)" if count < len(items) else ""


def preflight(datamodule, splits: list[str]) -> None:
    """Check every split `fit` uses, show the first training example and a summary; errors stop here."""
    check_all(datamodule, splits)
    tokenizer, max_length = datamodule.tokenizer, datamodule.max_length
    train = datamodule.datasets["train"]
    rank_zero_info(describe(train[0], tokenizer, "train", 0, len(train)))
    sizes = ", ".join(
        f"{len(datamodule.datasets[s])} {s}" + ("" if s == "train" else distinct(datamodule.datasets[s]))
        for s in splits
    )
    longest = max(i["length"] for s in splits for i in datamodule.datasets[s])
    rank_zero_info(
        f"lit: pre-flight passed: {sizes} examples, longest {longest} tokens (max_length {max_length})"
    )
