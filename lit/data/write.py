"""`python -m lit data sums|java-instruct ...`: write a task's generated dataset to JSONL, or one set
exactly as a config draws it."""

from __future__ import annotations

import argparse
from pathlib import Path

from datamodules.java import generate_java_instructions
from datamodules.records import write_jsonl
from datamodules.sums import SumsDataModule, generate_sums, to_mistral_text

SPLITS = ("train", "val", "val_seen", "test")


def config_split(config: str, split: str) -> list[dict]:
    """A sums split exactly as `config`'s data module draws it (its sizes, seed, held-out targets)."""
    import yaml

    data = (yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}).get("data") or {}
    module = SumsDataModule(**(data.get("init_args") or {}))
    if split != "train" and split not in module.task.eval_sets["validate"] + module.task.eval_sets["test"]:
        sets = ", ".join(module.task.eval_sets["validate"] + module.task.eval_sets["test"])
        raise SystemExit(f"lit data: {config} has no {split!r} set (its sets: {sets})")
    return module.generate_examples(split)


def write_main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m lit data", description=__doc__)
    tasks = parser.add_subparsers(dest="task", required=True)
    tasks.add_parser(
        "inspect", help="show a config's examples as rendered, trained tokens marked (--config FILE)"
    )
    tasks.add_parser(
        "preferences", help="pairs from a checkpoint's wrong answers on training prompts (--ckpt, --out)"
    )
    sums = tasks.add_parser("sums", help="the Spanish sums task")
    sums.add_argument("--num-examples", type=int, default=600)
    sums.add_argument("--seed", type=int, default=0)
    sums.add_argument("--min-target", type=int, default=10)
    sums.add_argument("--max-target", type=int, default=50)
    sums.add_argument("--addends", choices=["random", "descending", "greedy"], default="random")
    sums.add_argument(
        "--format",
        choices=["mistral", "prompt-completion", "seed"],
        default="mistral",
        help='"mistral": the reference experiment\'s {"text": "<s>[INST] ... [/INST] ... </s>"} '
        '("seed": its old name); "prompt-completion": {"prompt", "completion"}',
    )
    sums.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="write this split as --config draws it (sizes, seed, held-out targets from the config); "
        "the other generator options are then ignored",
    )
    sums.add_argument("--config", default="configs/embedded/sums.yaml", help="the config --split follows")
    sums.add_argument("--out", required=True, help="output JSONL path")
    java = tasks.add_parser("java-instruct", help="Java instruction -> method pairs, {prompt, completion}")
    java.add_argument("--num-examples", type=int, default=20_000)
    java.add_argument("--seed", type=int, default=0)
    java.add_argument("--held-out", action="store_true", help="only words never used in training")
    java.add_argument("--out", required=True, help="output JSONL path")
    options = parser.parse_args(args)

    if options.task == "sums":
        if options.split:
            examples = config_split(options.config, options.split)
        else:
            examples = generate_sums(
                options.num_examples, options.seed, options.min_target, options.max_target, options.addends
            )
        mistral = options.format in ("mistral", "seed")
        records = [to_mistral_text(e) for e in examples] if mistral else examples
    else:
        records = generate_java_instructions(options.num_examples, options.seed, held_out=options.held_out)
    write_jsonl(options.out, records)
    print(f"lit: wrote {len(records)} {options.task} examples to {options.out}")
