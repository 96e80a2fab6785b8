"""Training and evaluation speed of `lit` against Hugging Face baselines, on identical work.

    python -m bench.vs_hf --steps 30 --repeats 3 --ablations

Runs, each in its own process (`bench/runs.py`), interleaved and repeated: this project's `fit`,
transformers.Trainer + peft with its best one-line setting (length-grouped batches; the headline
baseline) and with its default random batches (a secondary row), and TRL's SFTTrainer where it is
installed, all on the config's model, tokenized data, batch size, LoRA settings, optimizer and
gradient clipping (max norm 1.0), at one precision and thread count. With `--ablations`, also
`fit` with each speed change turned off, and with packed batches (`packing`, opt-in). Then this project's
batched generation against
transformers' batched `generate` on the same batches, greedy and with the config's beam width
(the headline ratios), and a one-prompt-at-a-time loop (a secondary row), the kinds taking turns
going first, with the adapter the first `fit` trained. With `--time_to_score java sums`, last, the
minutes from `lit fit` to a held-out score on each task's embedded config (`bench/time_to_score.py`).

Reports real (non-pad) training tokens/s and peak memory (RSS on CPU, CUDA max allocated on a GPU);
ratios are taken within this one invocation. First it measures the machine's matmul peak (fp32 and
bf16, the same threads) and reports each training and generation row as a fraction of it (model
FLOPs per token, `bench/flops.py`). Writes `--results` (JSON); `bench/tables.py` writes its table
into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> extra `lit fit` arguments: the project with one speed change turned off, or an opt-in one on.
ABLATIONS = {
    "lit, packed batches": ["--data.init_args.packing", "true"],  # opt-in: one row a batch, no padding
    "lit, random batches": ["--data.init_args.group_by_length", "false"],
    "lit, logits at all positions": ["--model.init_args.trained_logits_only", "false"],
    "lit, torch's dropout": ["--model.init_args.fast_dropout", "false"],
    "lit, eager attention": ["--model.init_args.attn_implementation", "eager"],
    "lit, none of the above": [
        "--data.init_args.group_by_length",
        "false",
        "--model.init_args.trained_logits_only",
        "false",
        "--model.init_args.fast_dropout",
        "false",
    ],
}
SYSTEMS = {
    "lit": "lit",
    "hf": "transformers.Trainer + peft, lit's length-grouped batches in lit's order (the same work)",
    "hf_grouped": "transformers.Trainer + peft, its own length grouping (`group_by_length`, other batches)",
    "hf_random": "transformers.Trainer + peft, random batches (its default, other batches)",
    "trl": "TRL SFTTrainer + peft, its defaults (padded batches), lit's batches in lit's order",
    "trl_padding_free": "TRL SFTTrainer + peft, padding-free (`padding_free=True`), lit's batches in order",
    "trl_packing": "TRL SFTTrainer + peft, BFD packing (`packing=True`), rows of lit's mean batch tokens",
}
# A system name -> the runs.py system and its flags (the same Trainer with its own samplers, TRL's modes).
VARIANTS = {
    "hf_grouped": ("hf", {"sampling": "group_by_length"}),
    "hf_random": ("hf", {"sampling": "random"}),
    "trl_padding_free": ("trl", {"trl_mode": "padding_free"}),
    "trl_packing": ("trl", {"trl_mode": "packing"}),
}


def machine(options) -> dict:
    import torch

    from bench.common import commit
    from modules.hardware import cpu_description

    model_name = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {}
    for package in ("torch", "transformers", "peft", "lightning", "trl", "bitsandbytes"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    info = {
        "device": options.device,
        "cpu": model_name,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_description": cpu_description(),
        "cpu_count": os.cpu_count(),
        "threads": options.threads,
        "precision": options.precision,
        "versions": versions,
        "commit": commit(),
    }
    if options.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def others_busy(seconds: float = 3.0) -> float:
    """Share of all cores busy over `seconds` while no run of ours is going (Linux /proc/stat)."""

    def sample():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    (total0, idle0), _ = sample(), time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_for_quiet(limit_s: float = 1800) -> float:
    """Wait (up to `limit_s`) until other processes leave the cores nearly idle; the seconds waited."""
    start = time.perf_counter()
    while others_busy() > 0.15 and time.perf_counter() - start < limit_s:
        time.sleep(20)
    return time.perf_counter() - start


def contended(result: dict, options) -> bool:
    """A run whose process got well under `threads` CPU seconds per second shared the cores."""
    shares = (
        [result["cpu_per_wall_s"]]
        if "cpu_per_wall_s" in result
        else [r["cpu_per_wall_s"] for runs in result.get("runs", {}).values() for r in runs]
    )
    return any(share < options.min_cpu_share * options.threads for share in shares)


def measured(system: str, out: Path, options, extra: list[str] = (), **flags) -> dict:
    """`child`, on cores left idle by others; a contended run is kept aside and run again."""
    discarded = []
    for _ in range(options.retries + 1):
        waited = wait_for_quiet() if options.device == "cpu" else 0.0
        result = child(system, out, options, extra, **flags)
        result["waited_s"] = waited
        if "error" in result or options.device != "cpu" or not contended(result, options):
            break
        discarded.append(result)
        print(
            f"  contended run of {system} set aside ({result.get('cpu_per_wall_s', 'see runs')} CPU s/s)",
            flush=True,
        )
    return {**result, "discarded_contended_runs": discarded}


def child(system: str, out: Path, options, extra: list[str] = (), **flags) -> dict:
    """Run one system in its own process; its JSON result, or the error it ended with."""
    command = [
        sys.executable,
        "-m",
        "bench.runs",
        system,
        "--config",
        options.config,
        "--out",
        str(out),
        "--workdir",
        str(out.with_suffix("")),
        "--warmup",
        str(options.warmup),
        "--steps",
        str(options.steps),
        "--threads",
        str(options.threads),
        "--device",
        options.device,
        "--precision",
        options.precision,
    ]
    for key, value in flags.items():
        command += [f"--{key}", str(value)]
    if extra:
        command += ["--", *extra]
    start = time.perf_counter()
    result = run_child(command, out, options)
    return {
        **result,
        "wall_s": time.perf_counter() - start,
        **({} if "error" in result else {"load_average": os.getloadavg()[0]}),
    }


def run_child(command: list[str], out: Path, options) -> dict:
    """`command` on the run's threads, offline; the JSON it wrote to `out`, or the last line of its
    error. Its output goes to `out` with the suffix `.log`."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(options.threads),
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "disabled",
    }
    run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    out.with_suffix(".log").write_text(run.stdout + run.stderr)
    if run.returncode != 0 or not out.is_file():
        return {"error": (run.stderr or run.stdout).strip().splitlines()[-1:]}
    return json.loads(out.read_text())


def time_to_score(task: str, options, workdir: Path) -> dict:
    """`bench/time_to_score.py TASK` in its own process, on idle cores: its record, or its error."""
    out = workdir / f"time_to_score_{task}.json"
    out.unlink(missing_ok=True)
    waited = wait_for_quiet() if options.device == "cpu" else 0.0
    command = [
        sys.executable,
        "-m",
        "bench.time_to_score",
        task,
        "--out",
        str(out),
        "--workdir",
        str(workdir / f"time_to_score_{task}"),
        "--limit_minutes",
        str(options.time_to_score_limit),
    ]
    return {**run_child(command, out, options), "waited_s": waited}


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)} if values else {}


def summarize(runs: dict[str, list[dict]], limit: dict | None = None) -> dict:
    """Per system: speed, memory and ratios to the Trainer; with `limit` (`hardware_limit`), model
    GFLOP/s and their fraction of the machine's matmul peak."""
    summary = {}
    for name, results in runs.items():
        good = [r for r in results if "error" not in r]
        summary[name] = {
            "tokens_per_s": spread([r["tokens_per_s"] for r in good]),
            "peak_rss_gib": spread([r["peak_rss_gib"] for r in good]),
            "real_token_fraction": spread([r["real_token_fraction"] for r in good]),
            "cpu_per_wall_s": spread([r["cpu_per_wall_s"] for r in good]),
            "errors": [r["error"] for r in results if "error" in r],
        }
        if any("peak_cuda_gib" in r for r in good):
            summary[name]["peak_cuda_gib"] = spread([r["peak_cuda_gib"] for r in good])
    if limit:  # model FLOPs per second and their share of the matmul peak in the compute dtype
        for name, results in runs.items():
            done = [r["tokens_per_s"] * limit["flops_per_token"] / 1e9 for r in results if "error" not in r]
            summary[name]["model_gflops_per_s"] = spread(done)
            summary[name]["fraction_of_peak"] = spread([g / limit["peak_gflops"] for g in done])
    lit = runs.get("lit", [])
    for name, results in runs.items():  # did the timed window hold lit's batches (`window_digest`)?
        pairs = [(r, b) for r, b in zip(results, lit) if "error" not in r and "error" not in b]
        summary[name]["same_batches_as_lit"] = bool(pairs) and all(
            r.get("window_digest") is not None and r.get("window_digest") == b.get("window_digest")
            for r, b in pairs
        )
    base = runs.get("hf", [])
    for name, results in runs.items():  # per-repeat ratios: repeat i of a system against repeat i of hf
        pairs = [(r, b) for r, b in zip(results, base) if "error" not in r and "error" not in b]
        summary[name]["vs_hf"] = {
            "tokens_per_s": spread([r["tokens_per_s"] / b["tokens_per_s"] for r, b in pairs]),
            "peak_memory": spread([r["peak_rss_gib"] / b["peak_rss_gib"] for r, b in pairs]),
        }
    return summary


# Generation kind -> its fair baseline: transformers' batched `generate` on the same batches and beams.
GENERATION_BASELINES = {"batched": "batched_transformers", "batched_beams": "beams_transformers"}


def summarize_generation(result: dict, limit: dict | None = None) -> dict:
    """Per kind: tokens/s, and per repeat the ratio to its fair baseline (`ratio`, the headline for
    greedy) and to one prompt at a time (a secondary row); with `limit`, the fraction of the matmul
    peak its model FLOPs per second reach (`{kind}_fraction_of_peak`)."""
    if "error" in result:
        return {"error": result["error"]}
    runs = result["runs"]
    summary = {kind: spread([r["tokens_per_s"] for r in runs[kind]]) for kind in runs}
    if limit:
        for kind in runs:
            summary[f"{kind}_fraction_of_peak"] = spread(
                [
                    r["model_gflops_per_s"] / limit["peak_gflops"]
                    for r in runs[kind]
                    if "model_gflops_per_s" in r
                ]
            )

    def ratios(kind: str, base: str) -> dict:
        return spread([k["tokens_per_s"] / b["tokens_per_s"] for k, b in zip(runs[kind], runs[base])])

    for kind in runs:
        if kind in GENERATION_BASELINES and GENERATION_BASELINES[kind] in runs:
            summary[f"{kind}_vs_transformers"] = ratios(kind, GENERATION_BASELINES[kind])
        if kind != "one_at_a_time":
            summary[f"{kind}_vs_one_at_a_time"] = ratios(kind, "one_at_a_time")
    summary["ratio"] = summary["batched_vs_transformers"]
    return summary


def hardware_limit(peak: dict, precision: str) -> dict | None:
    """From the `peak` run: the matmul peak in the precision's compute dtype and the model FLOPs per
    training token, or None when the peak run failed."""
    from bench.flops import compute_dtype

    if "error" in peak:
        return None
    dtype = compute_dtype(precision)
    return {
        "dtype": dtype,
        "peak_gflops": peak["peak"][dtype]["gflops"],
        "flops_per_token": peak["training_flops_per_token"],
    }


def markdown(results: dict) -> str:
    m, s, g = results["machine"], results["summary"], results["generation_summary"]
    hardware = (
        f"GPU {m['gpu']}"
        if m["device"] == "cuda"
        else f"{m['cpu']}, {m['cpu_count']} cores, CPU capability {m['cpu_description']}"
    )
    lines = [
        f"Measured {results['date']} on {hardware}; {m['threads']} threads, precision {m['precision']}, "
        f"torch {m['versions']['torch']}, transformers {m['versions']['transformers']}, peft "
        f"{m['versions']['peft']}, "
        f"lightning {m['versions']['lightning']}, trl {m['versions']['trl']}; commit {m['commit']}. "
        f"Load average {results['load_average']['before']:.2f} before, "
        f"{results['load_average']['after']:.2f} after.",
        "",
        f"    {results['command']}",
        "",
        f"Training: `{results['config']}`, {results['warmup']} warm-up steps then {results['steps']} timed "
        "optimizer steps, "
        f"{results['repeats']} interleaved repeats; median (min-max) over repeats; ratios are per repeat "
        "against the "
        "fairest baseline, the Trainer given lit's batches in lit's order (the column 'lit's batches' says "
        "whether a run's timed window held exactly lit's), run in the same repeat; every system "
        "clips "
        f"gradients at max norm {results.get('clip', 1.0)} (the Trainer's default) at the same precision. "
        "CPU s per s: the run's CPU time per wall second over the timed steps "
        f"(min-max); near {m['threads']} the cores were the run's own, well below it another process took "
        "them.",
        "",
    ]
    limit, peak = results.get("limit"), results.get("peak", {})
    if limit:
        lines += [
            "",
            f"The machine's limit: `torch.mm` peaks at {peak['peak']['fp32']['gflops']:.1f} GFLOP/s in fp32 "
            "and "
            f"{peak['peak']['bf16']['gflops']:.1f} in bf16 on {peak['peak']['fp32']['threads']} threads "
            "(best of a square "
            f"and an MLP-shaped product, `bench/flops.py`); this precision computes in {limit['dtype']}. A "
            "training token "
            f"costs {limit['flops_per_token'] / 1e9:.3f} model GFLOP on this data (forward, backward through "
            "the frozen "
            "weights, LoRA, attention, the LM head at trained positions); fraction of peak = model GFLOP/s / "
            "peak.",
        ]
    lines += [
        "",
        "| system | real tokens/s | vs Trainer | peak RSS (GiB) | vs Trainer | real tokens / padded "
        "positions | CPU s per s | fraction of peak | lit's batches |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in s.items():
        if not row["tokens_per_s"]:
            lines.append(f"| {results['labels'][name]} | failed: {row['errors'][:1]} | | | | | | | |")
            continue
        t, v, p = row["tokens_per_s"], row["vs_hf"], row["peak_rss_gib"]
        ratio = (
            f"{v['tokens_per_s']['median']:.2f}x "
            f"({v['tokens_per_s']['min']:.2f}-{v['tokens_per_s']['max']:.2f})"
            if v["tokens_per_s"]
            else ""
        )
        memory = f"{v['peak_memory']['median']:.2f}x" if v["peak_memory"] else ""
        lines.append(
            f"| {results['labels'][name]} | {t['median']:.1f} ({t['min']:.1f}-{t['max']:.1f}) | {ratio} | "
            f"{p['median']:.2f} ({p['min']:.2f}-{p['max']:.2f}) | {memory} | "
            f"{row['real_token_fraction']['median']:.2f} | "
            f"{row['cpu_per_wall_s']['min']:.2f}-{row['cpu_per_wall_s']['max']:.2f} | "
            f"{_share(row.get('fraction_of_peak'))} | "
            f"{'same' if row.get('same_batches_as_lit') else 'other'} |"
        )
    if "error" not in g:
        gen = results["generation"]
        size = gen.get("eval_batch_size", gen["prompts"])
        beams = gen.get("num_beams", 1)
        labels = {
            "batched": (
                f"this project, greedy, batches of {size} (`CausalLM.generate`: ended rows leave the batch)"
            ),
            "batched_transformers": (
                "`transformers` `generate`, greedy, the same batches (rows run to the batch's last EOS)"
            ),
            "batched_beams": (
                f"this project, {beams} beams, the same batches (the config's validation decoding)"
            ),
            "beams_transformers": f"`transformers` `generate`, {beams} beams, the same batches",
        }
        lines += [
            "",
            f"Evaluation: generation on the {gen['prompts']} `{gen['eval_set']}` prompts (the config's eval "
            "batch size "
            f"{size}), greedy and with {beams} beams, max_new_tokens {gen['max_new_tokens']}, adapter "
            f"{'from the first lit run' if gen['adapter'] else 'untrained'}; {len(gen['runs']['batched'])} "
            "interleaved "
            "repeats, each kind in turn first; the greedy kinds give the same text for "
            f"{gen['same_text_fraction']:.0%} of prompts"
            + (
                f", the beam kinds for {gen['same_text_fraction_beams']:.0%}"
                if gen.get("same_text_fraction_beams") is not None
                else ""
            )
            + "; "
            f"{gen['runs']['batched'][0]['generated_tokens']} tokens generated.",
            "",
            "| generation | generated tokens/s | vs transformers' batched `generate` | vs one at a time | "
            "fraction of peak |",
            "|---|---:|---:|---:|---:|",
            *[
                f"| {labels.get(kind, kind)} | {_cell(g[kind])} | {_versus_transformers(g, kind)} | "
                f"{_cell(g[kind + '_vs_one_at_a_time'], 'x')} | {_share(g.get(kind + '_fraction_of_peak'))} |"
                for kind in gen["runs"]
                if kind != "one_at_a_time"
            ],
            f"| one prompt at a time (`generate` loop, a secondary baseline) | {_cell(g['one_at_a_time'])} | "
            "| 1x | "
            f"{_share(g.get('one_at_a_time_fraction_of_peak'))} |",
            *_difference_lines(gen.get("differences", [])),
        ]
    lines += _time_to_score_lines(results.get("time_to_score", {}))
    return "\n".join(lines)


def _difference_lines(differences: list[dict]) -> list[str]:
    """Each prompt whose text differs between kinds of one search: which kinds agree, and from which
    character the texts part (the texts themselves are in the record, `generation.differences`)."""
    if not differences:
        return []
    lines = ["", "Prompts whose text differs between kinds of the same search:", ""]
    for d in differences:
        groups: dict[str, list[str]] = {}
        for kind, text in d.items():
            if kind not in ("prompt_index", "prompt"):
                groups.setdefault(text, []).append(kind)
        texts = list(groups)
        part = next((i for i, chars in enumerate(zip(*texts)) if len(set(chars)) > 1), min(map(len, texts)))
        agree = "; ".join(" = ".join(f"`{k}`" for k in kinds) for kinds in groups.values())
        lines.append(
            f"- prompt {d['prompt_index']} (`{d['prompt']!r}`): {agree}; the texts part at character {part}"
        )
    return lines


def _time_to_score_lines(records: dict) -> list[str]:
    if not records:
        return []
    lines = [
        "",
        "Time to a trusted score: minutes from `lit fit`'s start (loading included) to the end of the first "
        "validation whose held-out metric reaches the target, training and evaluation together "
        "(`bench/time_to_score.py`, the config's own precision and the run's threads; each validation as "
        "step: minutes, value; evaluation: the minutes of every validation, the sanity check included, and "
        "their share of the minutes to the target or to the end).",
        "",
        "| task | precision, CPU | target | reached after | evaluation | validations during fit | "
        "fit arguments added |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for task, r in records.items():
        if "error" in r:
            lines.append(f"| {task} | | | failed: {r['error']} | | | |")
            continue
        task = r.get("task", task)
        evaluation = (
            f"{r['evaluation_minutes']:.1f} min ({r['evaluation_share']:.0%})"
            if r.get("evaluation_share") is not None
            else "not recorded"
        )
        cpu = r.get("cpu", "?")
        simulated = "ATEN_CPU_CAPABILITY" in cpu  # the AVX2 class, its kernels held on a newer CPU
        where = f"{r.get('precision', 'auto')}, {cpu.split(' (')[0].split(',')[0]}" + (
            " (simulated)" if simulated else ""
        )
        sign = ">=" if r["mode"] == "max" else "<="
        if r["reached"]:
            reached = f"**{r['minutes_to_target']:.1f} min** (step {r['step']})"
        else:
            limit = f", gave up at the {r['limit_minutes']:g}-min limit" if r.get("gave_up") else ""
            reached = f"not reached ({r.get('minutes_total', 0):.1f} min, {r.get('steps')} steps{limit})"
        curve = "; ".join(
            f"{v['step']}: {v['minutes']:.1f} min, {v[r['monitor']]:.2f}"
            for v in r["validations"]
            if v.get("during_fit") and r["monitor"] in v
        )
        lines.append(
            f"| {task} (`{r['config']}`) | {where} | `{r['monitor']}` {sign} {r['target']} | {reached} | "
            f"{evaluation} | {curve} | `{' '.join(r['fit_args']) or 'none'}` |"
        )
    return lines


def _versus_transformers(summary: dict, kind: str) -> str:
    key = kind + "_vs_transformers"
    return _cell(summary[key], "x") if key in summary else "1x (the baseline)"


def _share(values: dict | None) -> str:
    return f"{values['median']:.1%} ({values['min']:.1%}-{values['max']:.1%})" if values else ""


def _cell(values: dict, unit: str = "") -> str:
    return f"{values['median']:.1f}{unit} ({values['min']:.1f}-{values['max']:.1f})"


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="configs/embedded/java_instruct.yaml")
    parser.add_argument("--steps", type=int, default=30, help="timed optimizer steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed optimizer steps first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--ablations", action="store_true", help="also lit with each speed change off")
    parser.add_argument("--eval_repeats", type=int, default=2, help="0 skips the generation benchmark")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"]
    )
    parser.add_argument("--precision", default="32-true")
    parser.add_argument(
        "--min_cpu_share",
        type=float,
        default=0.85,
        help="CPU: a run with fewer CPU s per s than this x threads shared the cores; it is run again",
    )
    parser.add_argument("--retries", type=int, default=3, help="CPU: reruns of a contended run")
    parser.add_argument(
        "--time_to_score",
        nargs="*",
        default=[],
        choices=["java", "sums"],
        help="also the minutes from `lit fit` to each task's held-out target (bench/time_to_score.py)",
    )
    parser.add_argument(
        "--time_to_score_limit",
        type=float,
        default=45.0,
        help="minutes after which a time-to-score run gives up (at its next validation)",
    )
    parser.add_argument("--workdir", default="runs/bench")
    parser.add_argument("--results", default="bench/records/vs_hf.json")
    options = parser.parse_args()
    os.chdir(ROOT)

    # TRL is a benchmark-only extra (`pip install -e ".[bench]"`): its rows run where it is installed.
    systems = [s for s in options.systems if not s.startswith("trl") or importlib.util.find_spec("trl")]
    names = systems + (list(ABLATIONS) if options.ablations else [])
    labels = {**SYSTEMS, **{name: name for name in ABLATIONS}}
    workdir = Path(options.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    adapter = workdir / "adapter.ckpt"
    adapter.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    # The hardware's limit first, on the same threads, on cores left idle by others.
    peak = measured("peak", workdir / "peak.json", options)
    limit = hardware_limit(peak, options.precision)
    print(f"peak: {peak.get('peak', peak.get('error'))}", flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for repeat in range(options.repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]  # each system takes each place
        for name in order:
            flags = {"save_adapter": adapter} if name == "lit" and not adapter.exists() else {}
            system, variant_flags = VARIANTS.get(name, ("lit" if name in ABLATIONS else name, {}))
            flags.update(variant_flags)
            out = workdir / f"{name.replace(', ', '-').replace(' ', '_')}-{repeat}.json"
            result = measured(system, out, options, ABLATIONS.get(name, []), **flags)
            runs[name].append(result)
            shown = (
                f"{result['tokens_per_s']:.1f} tokens/s, {result['peak_rss_gib']:.2f} GiB"
                if "error" not in result
                else result["error"]
            )
            print(f"repeat {repeat} {name}: {shown} ({result['wall_s']:.0f} s)", flush=True)
    generation = {"error": "skipped"}
    if options.eval_repeats:
        generation = measured(
            "generate", workdir / "generate.json", options, repeats=options.eval_repeats, adapter=adapter
        )
        print(f"generation: {summarize_generation(generation, limit)}", flush=True)
    command = "python -m bench.vs_hf " + " ".join(sys.argv[1:])
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command.strip(),
        "machine": machine(options),
        "config": options.config,
        "steps": options.steps,
        "warmup": options.warmup,
        "repeats": options.repeats,
        "clip": 1.0,
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "peak": peak,
        "limit": limit,
        "labels": {name: labels[name] for name in names},
        "runs": runs,
        "summary": summarize(runs, limit),
        "generation": generation,
        "generation_summary": summarize_generation(generation, limit),
        "time_to_score": {},
    }
    # Written now and after each time to score (the longest part): a run cut short keeps what it measured.
    table = write_results(results, options)
    for task in options.time_to_score:
        results["time_to_score"][task] = record = time_to_score(task, options, workdir)
        print(f"time to score, {task}: {record.get('minutes_to_target', record.get('error'))}", flush=True)
        results["load_average"]["after"] = os.getloadavg()[0]
        table = write_results(results, options)
    print(table)


def write_results(results: dict, options) -> str:
    """`--results`, with the targets measured so far; returns the table (`bench/tables.py` writes it into
    docs/benchmarks.md from the committed record)."""
    lit, gen, scores = (
        results["summary"].get("lit", {}).get("vs_hf", {}),
        results["generation_summary"],
        results["time_to_score"],
    )
    if lit.get("tokens_per_s"):
        results["targets"] = {
            "train_tokens_per_s_vs_hf_at_least_1.5": lit["tokens_per_s"]["median"] >= 1.5,
            "peak_memory_not_above_hf": lit["peak_memory"]["max"] <= 1.0,
            "batched_generation_vs_one_at_a_time_at_least_10x": gen.get("batched_vs_one_at_a_time", {}).get(
                "median", 0
            )
            >= 10,
            "greedy_generation_vs_batched_generate_at_least_2x": gen.get("batched_vs_transformers", {}).get(
                "median", 0
            )
            >= 2,
            "beam_generation_vs_batched_generate_at_least_2x": gen.get(
                "batched_beams_vs_transformers", {}
            ).get("median", 0)
            >= 2,
        }
        if "java" in scores:
            java = scores["java"]
            results["targets"]["java_time_to_score_under_15_min"] = (
                bool(java.get("reached")) and java["minutes_to_target"] < 15
            )
    Path(options.results).write_text(json.dumps(results, indent=1) + "\n")
    return markdown(results)


if __name__ == "__main__":
    main()
