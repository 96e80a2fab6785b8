"""A config as committed, fit (and tested once), written as a record for the docs' tables.

    python -m bench.config_record configs/embedded/java_instruct.yaml --test \
        --out bench/records/java_instruct_bf16-mixed_seed0.json
    python -m bench.config_record configs/embedded/chat.yaml --out bench/records/chat_bf16-mixed_seed0.json

Runs `lit fit` with a CSV logger (and `lit test` on its last checkpoint with `--test`), then records every
logged held-out metric by step, the distinct items of each set, minutes, training tokens and peak memory,
with the commands, commit, CPU class and precision. `python -m bench.tables` turns it into tables.
`--ckpt_path` scores a checkpoint made before instead (`lit validate`, and `lit test` with `--test`): a
model trained by an earlier config, on today's sets, is the "before" of a before/after table.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench.common import commit
from lit.callbacks import TokenThroughput
from lit.cli import cli_main
from modules.hardware import cpu_description


def held_out_rows(metrics_csv: Path, prefixes: tuple[str, ...]) -> list[dict]:
    """One row per evaluation (its step and every `<set>/<metric>` of the sets named by `prefixes`)."""
    rows: dict[int, dict] = {}
    with open(metrics_csv, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            values = {k: round(float(v), 4) for k, v in row.items() if v and k.startswith(prefixes)}
            if values:
                rows.setdefault(int(row["step"]), {"step": int(row["step"])}).update(values)
    return [rows[step] for step in sorted(rows)]


def run(config: str, test: bool, extra: list[str], ckpt_path: str | None = None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="config_record_"))
    logged = [
        "--trainer.logger",
        "lightning.pytorch.loggers.CSVLogger",
        "--trainer.enable_progress_bar",
        "false",
    ]
    fit = [
        "validate" if ckpt_path else "fit",
        "--config",
        config,
        *logged,
        "--trainer.logger.save_dir",
        str(work / "fit"),
        "--trainer.default_root_dir",
        str(work / "fit"),
        *(["--ckpt_path", ckpt_path] if ckpt_path else []),
        *extra,
    ]
    start = time.perf_counter()
    cli = cli_main(fit)
    minutes = {fit[0]: round((time.perf_counter() - start) / 60, 1)}
    sets = cli.datamodule.task.eval_sets
    [throughput] = [c for c in cli.trainer.callbacks if isinstance(c, TokenThroughput)]
    record = {
        "commands": ["python -m lit " + " ".join(fit)],
        "commit": commit(),
        "cpu": cpu_description(),
        "precision": str(cli.trainer.precision),
        "seed": cli.config[fit[0]].get("seed_everything"),
        # A held-out figure counts distinct prompts as the model reads them (a set may repeat one).
        "distinct_items": {
            name: len({tuple(item["prompt_ids"]) for item in cli.datamodule.prepare_split(name)})
            for name in sets["validate"] + (sets["test"] if test else [])
        },
        "minutes": minutes,
        "training_tokens": getattr(throughput, "_total_tokens", 0),  # none when scoring a checkpoint
        "preference_pairs": len(getattr(cli.datamodule, "pairs", None) or []) or None,
        "ckpt_path": ckpt_path,
        "validation": held_out_rows(
            next((work / "fit").rglob("metrics.csv")), tuple(f"{s}/" for s in sets["validate"])
        ),
        # The training curve as logged (loss, and a preference run's rewards and reward accuracy).
        "training": held_out_rows(next((work / "fit").rglob("metrics.csv")), ("train/",))
        if not ckpt_path
        else [],
    }
    if test:
        [last] = [ckpt_path] if ckpt_path else list((work / "fit").rglob("last.ckpt"))
        command = [
            "test",
            "--config",
            config,
            "--ckpt_path",
            str(last),
            *logged,
            "--trainer.logger.save_dir",
            str(work / "test"),
            "--trainer.default_root_dir",
            str(work / "test"),
        ]
        start = time.perf_counter()
        cli_main(command)
        minutes["test"] = round((time.perf_counter() - start) / 60, 1)
        record["commands"].append("python -m lit " + " ".join(command))
        record["test"] = held_out_rows(
            next((work / "test").rglob("metrics.csv")), tuple(f"{s}/" for s in sets["test"])
        )
    record["peak_memory_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return record


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config")
    parser.add_argument("--test", action="store_true", help="also `lit test` on the last checkpoint, once")
    parser.add_argument("--out", required=True, help="the record (JSON)")
    parser.add_argument("--ckpt_path", help="score this checkpoint (validate, and test with --test), no fit")
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)  # after `--`: extra `lit fit` arguments
    options = parser.parse_args(argv[:split])
    record = run(options.config, options.test, argv[split + 1 :], options.ckpt_path)
    Path(options.out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in record.items() if k not in ("validation", "test")}, indent=1))
    return record


if __name__ == "__main__":
    main()
