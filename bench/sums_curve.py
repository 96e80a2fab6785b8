"""The main job as a regression check: run the embedded sums recipe and report its held-out curve.

Run it before a change to the training path lands (docs/results.md: the main job's curve). It trains
`configs/embedded/sums.yaml` as committed, with the given precision and seed, and writes the curve
(held-out MAE, exact, the share of generations that hit the token limit, loss) with the CPU named:

    python -m bench.sums_curve --precision 32-true --seed 0 --out runs/sums_curve/fp32_seed0.json
    python -m bench.sums_curve --precision bf16-mixed --steps 50 --val_every 25   # bf16 forced

It exits with status 1 when the last held-out MAE is not below `--max_final_mae` (default 1.0).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.common import commit
from lit.cli import cli_main
from modules.hardware import cpu_description

COLUMNS = ("mae", "exact", "parse_rate", "hit_limit", "loss")
OTHER_SETS = ("val_seen",)  # `val` holds the held-out targets; recall of the training ones sits beside it


def read_curve(metrics_csv: Path) -> tuple[list[dict], dict[int, float]]:
    """One row per validation (step and the `val/` metrics), and train/loss by step, from a CSVLogger file."""
    rows, train_loss = [], {}
    with open(metrics_csv, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("val/mae"):
                point = {
                    "step": int(row["step"]) + 1,
                    **{k: float(row[f"val/{k}"]) for k in COLUMNS if row.get(f"val/{k}")},
                }
                for other in OTHER_SETS:  # recall of the training targets, where the config has it
                    if row.get(f"{other}/mae"):
                        point[other] = {
                            k: float(row[f"{other}/{k}"]) for k in COLUMNS if row.get(f"{other}/{k}")
                        }
                rows.append(point)
            if row.get("train/loss"):
                train_loss[int(row["step"]) + 1] = float(row["train/loss"])
    return rows, train_loss


def run_curve(precision: str, seed: int, steps: int, val_every: int, root: Path, extra: list[str]) -> dict:
    args = [
        "fit",
        "--config",
        "configs/embedded/sums.yaml",
        "--seed_everything",
        str(seed),
        "--trainer.precision",
        precision,
        "--trainer.max_steps",
        str(steps),
        "--trainer.val_check_interval",
        str(val_every),
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.default_root_dir",
        str(root),
        "--trainer.logger",
        "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir",
        str(root),
        "--trainer.logger.name",
        "",
        "--trainer.logger.version",
        "curve",
        *extra,
    ]
    code = commit()  # the code that trains: the commit when the run starts
    start = time.perf_counter()
    cli = cli_main(args)
    curve, train_loss = read_curve(root / "curve" / "metrics.csv")
    sets = cli.datamodule.datasets
    return {
        "command": "python -m bench.sums_curve " + " ".join(sys.argv[1:]),
        "commit": code,
        "config": "configs/embedded/sums.yaml",
        "precision": precision,
        "seed": seed,
        "steps": steps,
        "cpu": cpu_description(),
        "minutes": round((time.perf_counter() - start) / 60, 1),
        "extra_args": extra,
        # A held-out figure counts distinct prompts (a set may repeat one).
        "distinct_items": {
            name: len({item["prompt"] for item in sets[name]}) for name in ("val", "val_seen")
        },
        "curve": curve,
        "train_loss": train_loss,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--precision", default="32-true", help="32-true or bf16-mixed (forced, whatever the CPU)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed_everything: adapter init, dropout, batch order"
    )
    parser.add_argument("--steps", type=int, default=300, help="the config's max_steps by default")
    parser.add_argument("--val_every", type=int, default=50)
    parser.add_argument("--max_final_mae", type=float, default=1.0)
    parser.add_argument("--out", default=None, help="JSON file for the curve")
    parser.add_argument("--keep", default=None, help="keep the run (checkpoints, metrics.csv) in this folder")
    parser.add_argument("extra", nargs="*", help="more `lit fit` arguments, after --")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sums_curve_") as folder:
        root = Path(options.keep or folder)
        result = run_curve(
            options.precision, options.seed, options.steps, options.val_every, root, options.extra
        )
    print(
        f"sums curve: {options.precision}, seed {options.seed}, CPU {result['cpu']}, {result['minutes']} min"
    )
    print("  step    mae  exact  hit_limit  val/loss   (val: held-out targets; then val_seen: mae / exact)")
    for row in result["curve"]:
        others = "".join(
            f"   {o} {row[o]['mae']:.2f} / {row[o]['exact']:.2f}" for o in OTHER_SETS if o in row
        )
        print(
            f"  {row['step']:>4} {row['mae']:6.2f} {row['exact']:6.2f} "
            f"{row.get('hit_limit', float('nan')):10.2f} {row['loss']:9.3f}{others}"
        )
    if options.out:
        Path(options.out).parent.mkdir(parents=True, exist_ok=True)
        Path(options.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    final = result["curve"][-1]["mae"] if result["curve"] else float("inf")
    return 0 if final < options.max_final_mae else 1


if __name__ == "__main__":
    sys.exit(main())
