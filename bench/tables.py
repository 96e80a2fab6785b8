"""The measured figures in README.md and docs/, written from the records in bench/records/.

    python -m bench.tables          # rewrite every table block from its records
    python -m bench.tables --check  # fail when a block and its records disagree, or a doc states a
                                    # measured figure outside a block (CI runs this)

A doc holds a table as a block:

    <!-- table: sums -->
    ...written by this script...
    <!-- end table -->

Each block names its records, their commands, commits, CPU class and precision. Prose around the blocks
explains; it states no measured figure (a number with two decimals, a percentage, a ratio such as `1.3x`,
or a number of tokens/s, minutes, seconds or GiB), so a figure edited by hand or left behind by a new
measurement fails the check. Code blocks and inline code are not prose (they hold settings).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from modules.confidence import wilson_interval

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "bench" / "records"
DOCS = ["README.md", "docs"]  # the README and every page under docs/
BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end table -->)", re.S)
# A measured figure: 0.91, 55.1%, 1.33x, 298 tokens/s, 14.1 min, 9.2 s, 3.8 GiB (a 95% interval is a
# confidence level).
FIGURE = re.compile(
    r"\b\d+\.\d{2,}\b|\b(?!95%)\d+(?:\.\d+)?\s?%|\b\d+(?:\.\d+)?x\b|\b\d+(?:\.\d+)?\s?(?:tokens/s|min\b|minutes|s\b|GiB|MiB)"
)


def with_interval(p: float, n: int) -> str:
    """`0.91 (0.84-0.95)`: a proportion over n distinct items and its 95% interval."""
    low, high = wilson_interval(round(p * n), n)
    return f"{p:.2f} ({low:.2f}-{high:.2f})"


class MissingRecord(Exception):
    pass


def record(name: str) -> dict:
    path = RECORDS / name
    if not path.is_file():
        raise MissingRecord(f"bench/records/{name} does not exist (a table reads it)")
    return json.loads(path.read_text(encoding="utf-8"))


def source(*names: str, commands: bool = True) -> str:
    """The line under a table naming its records and how each was measured (`commands`: with the commands)."""
    parts = []
    for name in names:
        r = record(name)
        ran = r.get("commands") or [r.get("command")]
        commit = r.get("commit") or r.get("machine", {}).get("commit")
        if not commit or not any(ran):
            raise MissingRecord(f"bench/records/{name} names no commit or no command")
        shown = "; " + "; ".join(f"`{c}`" for c in ran if c) if commands else ""
        parts.append(f"`bench/records/{name}` (commit {commit}{shown})")
    return "Records: " + "; ".join(parts) + "."


def cpu_class(r: dict) -> str:
    """`AVX512-BF16` or `AVX2`-style: the CPU class a figure was measured on (`modules/hardware.py`)."""
    cpu = r.get("cpu") if isinstance(r.get("cpu"), str) and "native bf16" in r.get("cpu", "") else None
    cpu = cpu or r.get("machine", {}).get("cpu_description", "")
    capability = cpu.split(",")[0].strip()
    if "ATEN_CPU_CAPABILITY" in cpu:  # the other class simulated: kernels held below what the CPU has
        return f"{capability.split(' (')[0]} kernels on a CPU with native bf16 (`{cpu}`)"
    return f"{capability}, native bf16" if "native bf16: yes" in cpu else f"{capability}, no native bf16"


# ------------------------------------------------------------------ the tables
def reference_table() -> str:
    r = record("reference_experiments.json")
    sums, java = r["sums"], r["java"]
    return "\n".join(
        [
            "| experiment | recipe | reported |",
            "|---|---|---|",
            f"| Spanish sums | {sums['model']}; {sums['examples']} examples, targets {sums['targets']}, "
            f"{sums['epochs']} epochs, "
            f"batch {sums['batch_size']}, lr {sums['lr']:g} | {sums['reached']}; failed on "
            f"{sums['failed_on']} |",
            f"| Java | {java['model']}, causal-LM training on Java, then {java['examples']:,} instruction "
            "examples | "
            f"accuracy {java['accuracy_before']:.1%} -> {java['accuracy_after']:.1%}; failed on "
            f"{java['failed_on']} |",
            "",
            f"Source: `bench/records/reference_experiments.json`, {r['source']}.",
        ]
    )


SUMS = ["sums_curve_bf16-mixed_seed0.json", "sums_curve_32-true_seed0.json"]
JAVA = "java_instruct_bf16-mixed_seed0.json"
JAVA_BEFORE = "java_instruct_before_bf16-mixed.json"  # the config's model before issue 34, on today's sets
CHAT = "chat_bf16-mixed_seed0.json"
BENCH = "vs_hf_bf16-mixed.json"


def headline_table() -> str:
    """The README's summary: each task's held-out score with its distinct items and interval, and speed."""
    lines = [
        "| what | held-out set (distinct items) | score (95% interval) | precision, CPU class | minutes |",
        "|---|---|---:|---|---:|",
    ]
    for name in SUMS:
        r = record(name)
        final = r["curve"][-1]
        lines.append(
            f"| main job (`configs/embedded/sums.yaml`), step {final['step']} | `val`: unseen targets and "
            "composed "
            f"prompts ({r['distinct_items']['val']}) | exact "
            f"{with_interval(final['exact'], r['distinct_items']['val'])} | "
            f"{r['precision']}, {cpu_class(r)} | {r['minutes']} |"
        )
    java = record(JAVA)
    test = java["test"][0]
    lines.append(
        "| Java instructions (`configs/embedded/java_instruct.yaml`) | `test`: unseen words "
        f"({java['distinct_items']['test']}) | "
        f"accuracy {with_interval(test['test/accuracy'], java['distinct_items']['test'])} | "
        f"{java['precision']}, "
        f"{cpu_class(java)} | {java['minutes']['fit']} |"
    )
    if "test_phrasing/runs_right" in test:  # what the task still fails: wordings never trained on
        n = java["distinct_items"]["test_phrasing"]
        lines.append(
            "| Java instructions, asked in unseen wordings | `test_phrasing`: unseen words and wordings "
            f"({n}) | runs right {with_interval(test['test_phrasing/runs_right'], n)} | {java['precision']}, "
            f"{cpu_class(java)} | (same run) |"
        )
    chat = record(CHAT)
    final = chat["validation"][-1]
    lines.append(
        "| chat conversations (`configs/embedded/chat.yaml`) | `val`: unseen questions "
        f"({chat['distinct_items']['val']}) | "
        f"exact {with_interval(final['val/exact_match'], chat['distinct_items']['val'])} | "
        f"{chat['precision']}, "
        f"{cpu_class(chat)} | {chat['minutes']['fit']} |"
    )
    lines += ["", source(*SUMS, JAVA, CHAT, commands=False) + " Commands: [results](docs/results.md)."]
    if (RECORDS / BENCH).is_file():
        bench = record(BENCH)
        lit = bench["summary"]["lit"]
        trl = [
            row["tokens_per_s"]["median"] for name, row in bench["summary"].items() if name.startswith("trl")
        ]
        versus_trl = (
            f", {lit['tokens_per_s']['median'] / max(trl):.2f}x TRL's SFTTrainer at its fastest"
            if trl
            else ""
        )
        lines += [
            "",
            f"Training speed, same data, same LoRA, {bench['machine']['precision']}, {cpu_class(bench)}: lit "
            f"{lit['tokens_per_s']['median']:.0f} real tokens/s, "
            f"{lit['vs_hf']['tokens_per_s']['median']:.2f}x "
            f"the transformers Trainer on the same batches{versus_trl} ([benchmarks](docs/benchmarks.md)).",
        ]
    return "\n".join(lines)


def _seen(point: dict) -> str:
    """`val_seen` exact at a validation, or "-" where `score_every` left its generation out."""
    return f"{point['val_seen']['exact']:.2f}" if "exact" in point.get("val_seen", {}) else "-"


def sums_table() -> str:
    runs = [record(name) for name in SUMS]
    lines = [
        "| precision, CPU class | step | `val` exact (95%) | `val` MAE | `val_seen` exact (95%) | minutes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        final, n = r["curve"][-1], r["distinct_items"]
        lines.append(
            f"| {r['precision']}, {cpu_class(r)} | {final['step']} | "
            f"{with_interval(final['exact'], n['val'])} | "
            f"{final['mae']:.2f} | {with_interval(final['val_seen']['exact'], n['val_seen'])} | "
            f"{r['minutes']} |"
        )
    lines += [
        "",
        "Exact by step, `val` / `val_seen`:",
        "",
        "| step | " + " | ".join(r["precision"] for r in runs) + " |",
        "|---:|" + "---:|" * len(runs),
    ]
    for rows in zip(*(r["curve"] for r in runs)):
        lines.append(
            f"| {rows[0]['step']} | " + " | ".join(f"{v['exact']:.2f} / {_seen(v)}" for v in rows) + " |"
        )
    n = runs[0]["distinct_items"]
    lines += [
        "",
        f"`val`: {n['val']} distinct prompts on held-out targets; `val_seen`: {n['val_seen']} training "
        "targets, once each (-: not generated at that validation, the config's `score_every`). Intervals: "
        "Wilson, over the distinct items.",
        "",
        source(*SUMS),
    ]
    return "\n".join(lines)


def java_table() -> str:
    """Before (the model the config trained before held-out wordings and runs_right, scored on today's sets)
    and after (the config as committed), set by set."""
    after, before = record(JAVA), record(JAVA_BEFORE)
    n, final, test = after["distinct_items"], after["validation"][-1], after["test"][0]
    was = {**before["validation"][-1], **before["test"][0]}
    lines = [
        "| set | what it holds | distinct items | accuracy before | accuracy after (95%) | runs right before "
        "| runs right after (95%) | compiles after | prints right after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    sets = [
        ("val_seen", "training words", final),
        ("val", "unseen words", final),
        ("val_phrasing", "unseen words, unseen wordings", final),
        ("val_messages", "unseen words in messages", final),
        ("test", "unseen words (other than val's)", test),
        ("test_phrasing", "unseen words, unseen wordings (other than val's)", test),
        ("test_messages", "unseen words in messages (other than val's)", test),
    ]
    for name, what, values in sets:
        lines.append(
            f"| `{name}` | {what} | {n[name]} | {was[f'{name}/accuracy']:.2f} | "
            f"{with_interval(values[f'{name}/accuracy'], n[name])} | {was[f'{name}/runs_right']:.2f} | "
            f"{with_interval(values[f'{name}/runs_right'], n[name])} | "
            f"{values[f'{name}/compile_rate']:.2f} | {values[f'{name}/prints_right']:.2f} |"
        )
    lines += [
        "",
        f"{after['precision']}, {cpu_class(after)}, seed {after['seed']}. After: `val*` at step "
        f"{final['step']} (the end of fit), `test` once, from the last checkpoint; `lit fit` "
        f"{after['minutes']['fit']} min (the untrained model's validation included), `lit test` "
        f"{after['minutes'].get('test', '?')} min; peak "
        f"memory {after['peak_memory_gib']} GiB. Before: the checkpoint named in its record, trained by the "
        f"config before held-out wordings ({before['precision']}, {cpu_class(before)}), scored on the same "
        "sets (`lit validate`, `lit test`).",
        "",
        source(JAVA, JAVA_BEFORE),
    ]
    return "\n".join(lines)


def chat_table() -> str:
    r = record(CHAT)
    lines = [
        "| step | `val` exact (95%) | `val` chrF | `val_seen` exact | `val_seen` chrF |",
        "|---:|---:|---:|---:|---:|",
    ]
    for v in r["validation"]:
        lines.append(
            f"| {v['step']} | {with_interval(v['val/exact_match'], r['distinct_items']['val'])} | "
            f"{v['val/chrf']:.2f} | "
            f"{v['val_seen/exact_match']:.2f} | {v['val_seen/chrf']:.2f} |"
        )
    lines += [
        "",
        f"`val`: {r['distinct_items']['val']} conversations, each scored on a distinct unseen question; "
        f"`val_seen`: {r['distinct_items']['val_seen']} distinct conversations on training targets. "
        f"{r['precision']}, {cpu_class(r)}; fit {r['minutes']['fit']} min.",
        "",
        source(CHAT),
    ]
    return "\n".join(lines)


def cpu_4bit_kernel_table() -> str:
    names = ["cpu_4bit_kernel_bf16-mixed.json", "cpu_4bit_kernel_32-true.json"]
    lines = [
        "| precision, CPU class | lit's layout | packed kernel | speed-up | same generations |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in map(record, names):
        lines.append(
            f"| {r['precision']}, {cpu_class(r)} | {r['seconds_lit_layout']} s | "
            f"{r['seconds_packed_kernel']} s | "
            f"{r['speedup_packed']}x | {r['same_generations']} of {r['prompts']} ({r['distinct_prompts']} "
            "distinct) |"
        )
    return "\n".join([*lines, "", source(*names)])


def benchmark_table() -> str:
    from bench.vs_hf import markdown

    return markdown(record(BENCH)) + "\n\n" + source(BENCH)


TIME_TO_SCORE = [
    "time_to_score_sums_bf16-mixed.json",
    "time_to_score_sums_32-true_avx2.json",  # the AVX2 class, simulated (docs/benchmarks.md)
    "time_to_score_java_bf16-mixed.json",
]


def time_to_score_table() -> str:
    from bench.vs_hf import _time_to_score_lines

    records = {name: record(name) for name in TIME_TO_SCORE}
    classes = "; ".join(sorted({cpu_class(r) for r in records.values()}))
    lines = _time_to_score_lines(records)[1:]  # without its leading blank line
    return "\n".join([*lines, "", f"CPU class: {classes}.", "", source(*TIME_TO_SCORE)])


DPO = "dpo_bf16-mixed.json"
VS_TRL_DPO = "vs_trl_dpo_bf16-mixed.json"
COMPILE = "compile_step_bf16-mixed.json"


def dpo_table() -> str:
    """The DPO example: the task's held-out sets before (the SFT model) and after, and the reward curve."""
    r = record(DPO)
    n = r["distinct_items"]
    lines = [
        "| step | `val` exact (95%) | `val` MAE | `val_seen` exact (95%) | `val_seen` MAE |",
        "|---:|---:|---:|---:|---:|",
    ]
    for v in r["validation"]:
        lines.append(
            f"| {v['step']}{' (before: the SFT model)' if v['step'] == 0 else ''} | "
            f"{with_interval(v['val/exact'], n['val'])} | {v['val/mae']:.2f} | "
            f"{with_interval(v['val_seen/exact'], n['val_seen'])} | {v['val_seen/mae']:.2f} |"
        )
    curve = "; ".join(
        f"{t['step']}: {t['train/reward_accuracy']:.2f} ({t['train/margin']:.2f})"
        for t in r["training"]
        if "train/reward_accuracy" in t
    )
    lines += [
        "",
        f"{r['preference_pairs']} preference pairs from the SFT model's wrong answers on training prompts; "
        f"`val`: {n['val']} distinct prompts on held-out targets, `val_seen`: {n['val_seen']} training "
        f"targets. Reward accuracy on the training pairs (margin) by logged step: {curve}. "
        f"{r['precision']}, {cpu_class(r)}; fit {r['minutes']['fit']} min (the SFT model's validation "
        "included).",
        "",
        source(DPO),
    ]
    return "\n".join(lines)


def vs_trl_dpo_table() -> str:
    r = record(VS_TRL_DPO)
    rate = r["pairs_per_s"]
    lines = ["| system | pairs/s (median) | per run | peak RSS GiB |", "|---|---:|---|---:|"]
    for system, runs in r["runs"].items():
        each = ", ".join(f"{run['pairs_per_s']:.2f}" for run in runs)
        peak = max(run.get("peak_rss_gib", 0) for run in runs)
        lines.append(f"| {system} | {rate[system]:.2f} | {each} | {peak:.2f} |")
    s = r["settings"]
    lines += [
        "",
        f"lit / TRL: {r['lit_over_trl']:.2f}x in one run ({len(r['runs']['lit'])} runs each, taking turns). "
        f"The embedded model dense, LoRA r {s['lora']['r']} on {s['lora']['target_modules']}, "
        f"{s['batch_size']} pairs a step, {r['precision']}, {cpu_class(r)}, {r['threads']} threads; each "
        "system its own batch order.",
        "",
        source(VS_TRL_DPO),
    ]
    return "\n".join(lines)


def compile_table() -> str:
    r = record(COMPILE)
    lines = [
        "| system | first steps (s) | real tokens/s | positions computed | graphs, breaks |",
        "|---|---:|---:|---:|---|",
    ]
    for name, v in r["systems"].items():
        graphs = f"{v['graphs']}, {v['graph_breaks']}" if "graphs" in v else ""
        lines.append(
            f"| {name} | {v['warmup_s']:.1f} | {v['tokens_per_s']:.0f} | {v['positions']} | {graphs} |"
        )
    lines += [
        "",
        f"Compiled against lit's step: {r['compiled_vs_eager']:.2f}x; against the same fixed-width batches "
        f"eager: {r['compiled_vs_eager_fixed']:.2f}x. {r['steps']} timed steps after {r['warmup']}, batch "
        f"{r['batch_size']}, width {r['width']}, {r['precision']}, {cpu_class(r)}, torch {r['torch']}.",
        "",
        source(COMPILE),
    ]
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "reference": reference_table,
    "headline": headline_table,
    "sums": sums_table,
    "java": java_table,
    "chat": chat_table,
    "cpu_4bit_kernel": cpu_4bit_kernel_table,
    "time_to_score": time_to_score_table,
    "benchmark": benchmark_table,
    "dpo": dpo_table,
    "vs_trl_dpo": vs_trl_dpo_table,
    "compile": compile_table,
}


# ------------------------------------------------------------------ writing and checking the docs
def doc_paths(root: Path) -> list[Path]:
    paths = []
    for entry in DOCS:
        path = root / entry
        paths += sorted(path.rglob("*.md")) if path.is_dir() else [path]
    return paths


def render(text: str) -> str:
    """The doc with every block rewritten from its records (an unknown block name is a KeyError)."""
    return BLOCK.sub(lambda m: f"{m[1]}{TABLES[m['name']]().rstrip()}\n{m[4]}", text)


def figures_outside_blocks(text: str) -> list[str]:
    """Lines of prose that state a measured figure: the figure belongs in a block, from a record."""
    found, in_code = [], False
    prose = BLOCK.sub(
        lambda m: m[1] + "\n" * m["body"].count("\n") + m[4], text
    )  # blocks blanked, lines kept
    for number, line in enumerate(prose.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        plain = re.sub(r"`[^`]*`", "", line)
        if FIGURE.search(plain):
            found.append(f"line {number}: {line.strip()}")
    return found


def check(root: Path = ROOT) -> list[str]:
    """Every disagreement between the docs and their records, and every figure outside a block."""
    problems = []
    for path in doc_paths(root):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(root)
        unknown = sorted({m["name"] for m in BLOCK.finditer(text)} - set(TABLES))
        if unknown:
            problems.append(f"{name}: no table named {unknown} (known: {sorted(TABLES)})")
            continue
        try:
            if render(text) != text:
                problems.append(
                    f"{name}: a table differs from its records (python -m bench.tables rewrites it)"
                )
        except MissingRecord as error:
            problems.append(f"{name}: {error}")
        problems += [f"{name}, {where}" for where in figures_outside_blocks(text)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check; exit 1 on any disagreement")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository whose docs to read")
    options = parser.parse_args(argv)
    if not options.check:
        for path in doc_paths(options.root):
            text = path.read_text(encoding="utf-8")
            try:
                rendered = render(text)
            except MissingRecord as error:
                print(f"{path.relative_to(options.root)}: {error}", file=sys.stderr)
                continue
            if rendered != text:
                path.write_text(rendered, encoding="utf-8")
                print(f"rewrote {path.relative_to(options.root)}")
    problems = check(options.root)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
