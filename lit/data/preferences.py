"""`python -m lit data preferences --ckpt CKPT --out FILE`: preference pairs from a model's own mistakes.

The checkpoint's model answers the training prompts of its task (greedy, as validation decodes); every
answer that is wrong becomes a pair: the prompt, the training answer as `chosen`, what the model wrote as
`rejected`. Only training prompts are asked, so a preference run evaluated on the task's held-out sets is
evaluated on prompts none of its pairs saw. The task is the one the checkpoint trained on (its run records
its data module), or the data module a `--config` names (that of a `PreferenceDataModule`: its `task`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from datamodules.batches import pad_batch
from datamodules.preferences import PreferenceDataModule, build_task_data
from datamodules.records import write_jsonl
from modules.errors import UserInputError

WRONG = {
    "differs": "the answer is not the training answer (surrounding spaces aside)",
    "error": "the task's score is above 0 (an error, as the sums task's absolute error)",
    "below-one": "the task's score is below 1 (an accuracy or exact match)",
}


def task_spec(config: str | None, checkpoint: dict) -> dict:
    """{"class_path", "init_args"} of the task's data module: the config's, or the checkpoint's run's."""
    if config is None:
        spec = checkpoint.get("lit_datamodule")
        if spec is None:
            raise UserInputError("lit data preferences: the checkpoint records no data module; pass --config")
    else:
        import yaml

        data = (yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}).get("data") or {}
        spec = {"class_path": data.get("class_path", ""), "init_args": data.get("init_args") or {}}
    name = spec["class_path"].rpartition(".")[2]
    if name == PreferenceDataModule.__name__:
        spec = spec["init_args"].get("task")
        if spec is None:
            raise UserInputError("lit data preferences: the config's PreferenceDataModule names no `task`")
    init_args = {k: v for k, v in (spec.get("init_args") or {}).items() if not k.startswith("_")}
    return {"class_path": spec["class_path"], "init_args": init_args}


def is_wrong(rule: str, answer: str, written: str, score) -> bool:
    if rule == "differs":
        return answer.strip() != written.strip()
    if not isinstance(score, (int, float)):
        raise UserInputError(f"--wrong {rule} needs the task's score to be one number; use --wrong differs")
    return score > 0 if rule == "error" else score < 1


def pair_record(example: dict, item: dict, answer: str) -> dict:
    """The pair in the task's own form: plain strings, or a conversation's turns (TRL's format)."""
    if "messages" in example:
        written = example["messages"][-1]["content"]
        return {
            "prompt": item["messages"],
            "chosen": [{"role": "assistant", "content": written}],
            "rejected": [{"role": "assistant", "content": answer}],
        }
    return {"prompt": example["prompt"], "chosen": example["completion"], "rejected": answer}


def write_preferences(
    ckpt: str,
    out: str,
    config: str | None = None,
    limit: int | None = None,
    batch_size: int = 32,
    wrong: str = "differs",
) -> dict:
    """Write the pairs; return the counts (prompts asked, wrong answers, pairs written)."""
    from lit.export import load_trained

    module, checkpoint = load_trained(ckpt)
    spec = task_spec(config, checkpoint)
    data = build_task_data(spec, None, tokenizer=module.source, trust_remote_code=module.trust_remote_code)
    data.ready_tokenizer()
    examples = data.load_examples("train")
    seen, chosen = set(), []
    for example, item in zip(examples, data.tokenize_all(examples, "train")):
        key = tuple(item["prompt_ids"])
        if key not in seen:  # one pair per distinct prompt
            seen.add(key)
            chosen.append((example, item))
    chosen = chosen[:limit] if limit else chosen
    task, records, wrong_count = data.task, [], 0
    for start in range(0, len(chosen), batch_size):
        part = chosen[start : start + batch_size]
        batch = pad_batch([item for _, item in part], data.tokenizer.pad_token_id)
        with torch.no_grad():
            answers = module.generate(batch["prompt_ids"], batch["prompt_mask"])
        for (example, item), answer in zip(part, answers):
            written = example["messages"][-1]["content"] if "messages" in example else example["completion"]
            if not is_wrong(wrong, answer, written, task.score_of(answer, item["reference"])):
                continue
            wrong_count += 1
            if answer.strip() and answer.strip() != written.strip():  # a pair needs two different answers
                records.append(pair_record(example, item, answer.strip()))
    write_jsonl(out, records)
    return {"prompts": len(chosen), "wrong": wrong_count, "pairs": len(records)}


def preferences_main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m lit data preferences", description=__doc__)
    parser.add_argument("--ckpt", required=True, help="the lit checkpoint whose answers are judged")
    parser.add_argument("--out", required=True, help="output JSONL path: {prompt, chosen, rejected} records")
    parser.add_argument("--config", default=None, help="the task's config (default: the checkpoint's run's)")
    parser.add_argument("--limit", type=int, default=None, help="ask at most this many distinct prompts")
    parser.add_argument("--batch-size", type=int, default=32, help="prompts generated at once")
    parser.add_argument(
        "--wrong",
        choices=list(WRONG),
        default="differs",
        help="; ".join(f"{k}: {v}" for k, v in WRONG.items()),
    )
    options = parser.parse_args(args)
    counts = write_preferences(
        options.ckpt, options.out, options.config, options.limit, options.batch_size, options.wrong
    )
    print(
        f"lit: asked {counts['prompts']} training prompts, {counts['wrong']} answers wrong; "
        f"wrote {counts['pairs']} preference pairs to {options.out}"
    )
