"""A batch of tokenized examples: padded (training on the right, prompts on the left) or packed in one row."""

from __future__ import annotations

import torch

from modules.loss import IGNORE_INDEX, trained_positions


def pad_batch(items: list[dict], pad: int) -> dict:
    """Training sequences padded on the right, generation prompts on the left, with what the model and the
    evaluation read: where logits are needed, the prompts and references as text."""
    longest = max(len(i["input_ids"]) for i in items)
    longest_prompt = max(len(i["prompt_ids"]) for i in items)
    batch = {
        # Training sequences pad on the right; generation prompts on the left.
        "input_ids": torch.tensor([i["input_ids"] + [pad] * (longest - len(i["input_ids"])) for i in items]),
        "labels": torch.tensor([i["labels"] + [IGNORE_INDEX] * (longest - len(i["labels"])) for i in items]),
        "attention_mask": torch.tensor(
            [[1] * len(i["input_ids"]) + [0] * (longest - len(i["input_ids"])) for i in items]
        ),
        "prompt_ids": torch.tensor(
            [[pad] * (longest_prompt - len(i["prompt_ids"])) + i["prompt_ids"] for i in items]
        ),
        "prompt_mask": torch.tensor(
            [[0] * (longest_prompt - len(i["prompt_ids"])) + [1] * len(i["prompt_ids"]) for i in items]
        ),
        "prompts": [i["prompt"] for i in items],
        "references": [i["reference"] for i in items],
    }
    if any("messages" in i for i in items):  # conversations: `predict` continues them
        batch["messages"] = [i.get("messages") for i in items]
    batch["logit_positions"] = trained_positions(batch["labels"])  # where the model needs logits
    batch["pads_right"] = True  # training sequences: the causal mask alone keeps pads unseen
    return batch


def pack_batch(items: list[dict]) -> dict:
    """A training batch as one row without padding: the examples end to end, `position_ids`
    restarting at 0 for each, no attention mask. Given position ids and no mask, transformers
    (5.x `masking_utils`) reads a restart as a new sequence and masks attention to stay inside
    each example (sdpa and eager build that block-causal mask; flash-attention takes the same
    ids as variable-length sequences), so each token sees what it would see in its own row.
    Costs to weigh (`bench/vs_hf.py --ablations` measures them): attention over the whole row,
    masked, where rows of one example each attend within the example; and transformers' check
    for restarts reads a device value every step (a host sync on a GPU).
    """
    input_ids, labels, positions = [], [], []
    for item in items:
        input_ids += item["input_ids"]
        # An example's first token is never predicted from the end of the previous one.
        labels += [IGNORE_INDEX] + item["labels"][1:]
        positions += range(len(item["input_ids"]))
    batch = {
        "input_ids": torch.tensor([input_ids]),
        "labels": torch.tensor([labels]),
        "position_ids": torch.tensor([positions]),
        "attention_mask": torch.ones(
            1, len(input_ids), dtype=torch.long
        ),  # counted as real tokens, never passed
    }
    batch["logit_positions"] = trained_positions(batch["labels"])  # one row: exactly the trained ones
    return batch


def pair_batch(items: list[dict], pad: int) -> dict:
    """Preference pairs as one batch, padded on the right: the chosen responses' rows first, then the
    rejected ones in the same order (`chosen_rows` of each), so one forward scores both, as TRL does."""
    rows = [(i["chosen_ids"], i["chosen_labels"]) for i in items] + [
        (i["rejected_ids"], i["rejected_labels"]) for i in items
    ]
    longest = max(len(ids) for ids, _ in rows)
    batch = {
        "input_ids": torch.tensor([ids + [pad] * (longest - len(ids)) for ids, _ in rows]),
        "labels": torch.tensor([labels + [IGNORE_INDEX] * (longest - len(labels)) for _, labels in rows]),
        "attention_mask": torch.tensor([[1] * len(ids) + [0] * (longest - len(ids)) for ids, _ in rows]),
        "chosen_rows": len(items),
        "pads_right": True,
    }
    batch["logit_positions"] = trained_positions(batch["labels"])
    return batch
