"""`python -m lit report RUN_DIR`: PNG plots of a run's curves and a short markdown summary.

Reads the metrics a run left on disk (`metrics.jsonl` from lit's W&B logger, or `metrics.csv`
from Lightning's CSVLogger), so it needs neither W&B nor a network.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from pathlib import Path

from modules.confidence import wilson_interval
from modules.errors import UserInputError

METRIC_FILES = ("metrics.jsonl", "metrics.csv")
HIGHER_IS_BETTER = ("accuracy", "exact", "compile_rate", "runs_right", "prints_right", "parse_rate")
NOT_TASK_METRICS = ("loss", "ppl", "lr", "tokens_per_s", "peak_memory_gib", "epoch", "distinct")
# Metrics that are the share of generations with a yes/no outcome: quoted with a 95% interval over the
# set's distinct items (`<set>/distinct`, logged by `modules.evaluation`).
PROPORTIONS = (
    "exact",
    "accuracy",
    "compile_rate",
    "runs_right",
    "prints_right",
    "parse_rate",
    "hit_limit",
    "exact_match",
    "normalized_exact_match",
)


def find_metrics(run_dir: Path) -> Path:
    """The run's metrics file: in RUN_DIR itself, or the newest one below it."""
    if not run_dir.exists():
        raise UserInputError(f"report: {run_dir}: no such directory")
    found = [run_dir / n for n in METRIC_FILES if (run_dir / n).is_file()]
    found = found or [p for n in METRIC_FILES for p in run_dir.rglob(n)]
    if not found:
        raise UserInputError(f"report: {run_dir}: no metrics.jsonl or metrics.csv in it or below it")
    return max(found, key=lambda p: p.stat().st_mtime)


def read_metrics(path: Path) -> list[dict]:
    """Rows of {"step": int, "<metric>": float, ...}; empty CSV cells are left out."""
    rows = []
    if path.suffix == ".jsonl":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    else:
        with open(path, newline="", encoding="utf-8") as f:
            for record in csv.DictReader(f):
                rows.append({k: float(v) for k, v in record.items() if v not in ("", None)})
    for row in rows:
        row["step"] = int(row.get("step") or 0)
    return rows


def series(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """metric -> [(step, value)], in logging order."""
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        for key, value in row.items():
            if key not in ("step", "time") and value is not None and math.isfinite(value):
                out[key].append((row["step"], value))
    return dict(out)


def best(name: str, points: list[tuple[int, float]]) -> tuple[int, float]:
    higher = name.rsplit("/", 1)[-1] in HIGHER_IS_BETTER
    return (max if higher else min)(points, key=lambda p: p[1])


def plot(curves: dict[str, list[tuple[int, float]]], names: list[str], title: str, out: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    names = [n for n in names if curves.get(n)]
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in names:
        steps, values = zip(*curves[name])
        ax.plot(steps, values, marker="o" if len(steps) < 30 else None, label=name)
    ax.set(title=title, xlabel="step")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def last_interval(name: str, curves: dict[str, list[tuple[int, float]]]) -> str:
    """`0.84-0.95 (100)` for a proportion whose set logged its distinct items at the same step, else ""."""
    split, metric = name.rsplit("/", 1) if "/" in name else ("", name)
    distinct = dict(curves.get(f"{split}/distinct", []))
    step, value = curves[name][-1]
    if metric not in PROPORTIONS or step not in distinct:
        return ""
    n = int(distinct[step])
    low, high = wilson_interval(round(value * n), n)
    return f"{low:.2f}-{high:.2f} ({n})"


def write_report(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Plots (`loss.png`, one `<metric>.png` per task metric, `training.png`) and `report.md`."""
    metrics_file = find_metrics(run_dir)
    rows = read_metrics(metrics_file)
    if not rows:
        raise UserInputError(f"report: {metrics_file} holds no metrics yet")
    curves = series(rows)
    out_dir = out_dir or metrics_file.parent
    out_dir.mkdir(parents=True, exist_ok=True)

    losses = sorted(n for n in curves if n.endswith("/loss"))
    task = sorted(
        {n.rsplit("/", 1)[-1] for n in curves if "/" in n and not n.startswith("train/")}
        - set(NOT_TASK_METRICS)
    )
    plots = [plot(curves, losses, "loss", out_dir / "loss.png")]
    for metric in task:
        plots.append(
            plot(
                curves,
                sorted(n for n in curves if n.endswith("/" + metric)),
                metric,
                out_dir / f"{metric}.png",
            )
        )
    plots.append(plot(curves, ["train/tokens_per_s"], "training tokens/s", out_dir / "training.png"))

    lines = [f"# Run report: {run_dir}", "", f"Metrics from `{metrics_file}` ({len(rows)} rows).", ""]
    evaluated = sorted(n for n in curves if not n.startswith("train/") and n.rsplit("/", 1)[-1] != "epoch")
    if evaluated:
        epochs = dict(curves.get("epoch", []))
        lines += [
            "| metric | best | at step | epoch | last | last: 95% interval (distinct items) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name in evaluated:
            step, value = best(name, curves[name])
            epoch = epochs.get(step)
            lines.append(
                f"| {name} | {value:.4g} | {step} | {'' if epoch is None else int(epoch)} | "
                f"{curves[name][-1][1]:.4g} | {last_interval(name, curves)} |"
            )
        lines.append("")
    times = [row["time"] for row in rows if "time" in row]
    if len(times) > 1:
        lines.append(f"Logged over {(max(times) - min(times)) / 60:.1f} min.")
    if "train/tokens_per_s" in curves:
        speeds = [v for _, v in curves["train/tokens_per_s"]]
        lines.append(f"Training speed: median {sorted(speeds)[len(speeds) // 2]:.0f} tokens/s.")
    lines += ["", *[f"![{p.stem}]({p.name})" for p in plots if p is not None], ""]
    config = next(
        (
            p / "config.yaml"
            for p in [metrics_file.parent, *metrics_file.parents]
            if (p / "config.yaml").is_file()
        ),
        None,
    )
    if config is not None:
        lines += [
            f"## Config (`{config}`)",
            "",
            "```yaml",
            config.read_text(encoding="utf-8").strip(),
            "```",
            "",
        ]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report


def report_main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m lit report", description=__doc__)
    parser.add_argument(
        "run_dir", type=Path, help="a run directory, or a folder above runs (the newest is used)"
    )
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: beside the metrics)")
    options = parser.parse_args(args)
    report = write_report(options.run_dir, options.out)
    print(f"lit: wrote {report} and its plots")
