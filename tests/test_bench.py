"""The benchmark's arithmetic: model FLOPs, the matmul peak, fraction of peak in the tables, and the
time-to-score clock (a smoke run on the tiny model), how the benchmark runs it and writes its results, and
the generation benchmark's choice of kinds."""

import json
from pathlib import Path

import pytest

from bench.flops import ModelWork, compute_dtype, matmul_peak, model_work, training_flops_per_token
from tests.helpers import TINY_GPT2, TINY_MISTRAL


def bench_results(peak: dict, limit, summary: dict, generation: dict, generation_summary: dict) -> dict:
    """What `bench.vs_hf` assembles before any time to score, on a made-up machine."""
    machine = {
        "device": "cpu",
        "cpu": "a CPU",
        "cpu_count": 2,
        "cpu_description": "AVX2",
        "threads": 2,
        "precision": "32-true",
        "versions": {p: "0" for p in ("torch", "transformers", "peft", "lightning", "trl")},
        "commit": "abc",
    }
    return {
        "date": "today",
        "command": "python -m bench.vs_hf",
        "machine": machine,
        "config": "c.yaml",
        "steps": 1,
        "warmup": 1,
        "repeats": 1,
        "load_average": {"before": 0.0, "after": 0.0},
        "peak": peak,
        "limit": limit,
        "labels": {"lit": "lit", "hf": "Trainer"},
        "summary": summary,
        "generation": generation,
        "generation_summary": generation_summary,
        "time_to_score": {},
    }


def test_model_work_counts_the_decoder_linear_layers_and_the_adapted_ones():
    # tiny-mistral: hidden 64, 4 heads of 16, 2 key-value heads, MLP 128, 2 layers, vocabulary 320.
    per_layer = 64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 128  # q, k and v, o, gate/up/down
    work = model_work(TINY_MISTRAL, {"r": 8, "target_modules": ["k_proj", "v_proj", "o_proj"]})
    assert (work.frozen, work.layers, work.attention_width, work.hidden, work.vocab) == (
        2 * per_layer,
        2,
        64,
        64,
        320,
    )
    assert work.lora == 2 * 8 * ((64 + 32) + (64 + 32) + (64 + 64)) and not work.trains_base
    all_linear = model_work(TINY_MISTRAL, {"r": 4, "target_modules": "all-linear"}).lora
    assert all_linear == 2 * 4 * (128 + 96 + 96 + 128 + 3 * (64 + 128))  # the LM head is never adapted
    # tiny-gpt2: GPT-2's Conv1D layers (c_attn 3h, c_proj, an MLP of 4h), hidden 64; full fine-tuning.
    gpt2 = model_work(TINY_GPT2)
    assert (gpt2.frozen, gpt2.lora, gpt2.trains_base) == (2 * 12 * 64 * 64, 0, True)


def test_training_and_generation_flops_follow_the_formulas():
    work = ModelWork(frozen=10, lora=2, trains_base=False, layers=1, attention_width=1, hidden=1, vocab=3)
    # 2 tokens, 1 trained: frozen 4NL, LoRA 6nL, causal attention 3 x 4W x L(L+1)/2, LM head 4hV x T.
    assert work.training_flops(2, 1) == 4 * 10 * 2 + 6 * 2 * 2 + 3 * 4 * 3 + 4 * 3
    items = [{"input_ids": [1, 2], "labels": [-100, 2]}, {"input_ids": [1, 2, 3], "labels": [-100, -100, 3]}]
    assert (
        training_flops_per_token(work, items) == (work.training_flops(2, 1) + work.training_flops(3, 1)) / 5
    )
    assert ModelWork(10, 0, True, 1, 1, 1, 3).training_flops(1, 0) == 6 * 10 + 3 * 4  # weights that train: 6N
    # A prompt of 2, 3 returned tokens (2 steps after the prompt pass) with 2 beams: per token 2(N + n) = 24.
    prompt_pass = 24 * 2 + 4 * 3 + 2 * 3
    steps = 24 * 2 + 4 * (2 * 2 + 3) + 2 * 3 * 2  # contexts 3 and 4
    assert work.generation_flops(2, 3, beams=2) == prompt_pass + 2 * steps
    assert work.generation_flops(2, 1) == prompt_pass  # one token: the prompt pass's


def test_the_matmul_peak_is_measured_in_each_dtype():
    for dtype in ("fp32", "bf16"):
        peak = matmul_peak(dtype, 1, [(32, 32, 32), (16, 64, 32)], seconds=0.02, windows=2)
        assert set(peak["by_shape"]) == {"32x32x32", "16x64x32"} and peak["threads"] == 1
        assert peak["gflops"] == max(peak["by_shape"].values()) > 0
    assert (compute_dtype("bf16-mixed"), compute_dtype("32-true")) == ("bf16", "fp32")


def test_the_tables_report_each_row_as_a_fraction_of_the_peak():
    from bench.vs_hf import hardware_limit, markdown, summarize, summarize_generation

    peak = {
        "peak": {
            "fp32": {"gflops": 100.0, "threads": 2, "by_shape": {}},
            "bf16": {"gflops": 4.0, "threads": 2, "by_shape": {}},
        },
        "training_flops_per_token": 2e9,
    }
    limit = hardware_limit(peak, "32-true")
    assert limit == {"dtype": "fp32", "peak_gflops": 100.0, "flops_per_token": 2e9}
    assert (
        hardware_limit(peak, "bf16-mixed")["peak_gflops"] == 4.0
        and hardware_limit({"error": "x"}, "32-true") is None
    )
    run = {"tokens_per_s": 10.0, "peak_rss_gib": 3.0, "real_token_fraction": 1.0, "cpu_per_wall_s": 2.0}
    runs = {"lit": [run], "hf": [{**run, "tokens_per_s": 5.0}]}
    summary = summarize(runs, limit)
    assert summary["lit"]["fraction_of_peak"]["median"] == pytest.approx(
        0.2
    )  # 10 tokens/s x 2 GFLOP / 100 GFLOP/s
    generation = {
        "prompts": 2,
        "eval_set": "val",
        "eval_batch_size": 2,
        "max_new_tokens": 8,
        "adapter": None,
        "same_text_fraction": 1.0,
        "num_beams": 1,
        "runs": {
            kind: [{"tokens_per_s": 4.0, "generated_tokens": 8, "model_gflops_per_s": 5.0}]
            for kind in ("batched", "batched_transformers", "one_at_a_time")
        },
    }
    gen_summary = summarize_generation(generation, limit)
    assert gen_summary["batched_fraction_of_peak"]["median"] == pytest.approx(0.05)
    results = bench_results(peak, limit, summary, generation, gen_summary)
    table = markdown(results)
    assert "100.0 GFLOP/s in fp32 and 4.0 in bf16" in table and "2.000 model GFLOP" in table
    assert "| 20.0% (20.0%-20.0%) |" in table and "| 10.0% (10.0%-10.0%) |" in table  # lit and the Trainer
    assert "| 5.0% (5.0%-5.0%) |" in table  # the generation rows


def test_the_results_are_written_after_the_timings_and_again_after_each_time_to_score(tmp_path):
    import argparse

    from bench.vs_hf import markdown, summarize, summarize_generation, write_results

    run = {"tokens_per_s": 10.0, "peak_rss_gib": 3.0, "real_token_fraction": 1.0, "cpu_per_wall_s": 2.0}
    skipped = {"error": "skipped"}
    results = bench_results(
        {"error": "x"},
        None,
        summarize({"lit": [run], "hf": [{**run, "tokens_per_s": 5.0}]}, None),
        skipped,
        summarize_generation(skipped, None),
    )
    options = argparse.Namespace(results=str(tmp_path / "results.json"))
    write_results(results, options)  # the timings, before any time to score
    written = json.loads((tmp_path / "results.json").read_text())
    assert (
        written["targets"]["train_tokens_per_s_vs_hf_at_least_1.5"]
        and "java_time_to_score_under_15_min" not in written["targets"]
    )

    results["time_to_score"]["java"] = {
        "monitor": "val/accuracy",
        "target": 0.95,
        "mode": "max",
        "config": "c.yaml",
        "fit_args": [],
        "limit_minutes": 25,
        "reached": False,
        "gave_up": True,
        "minutes_to_target": None,
        "minutes_total": 41.3,
        "steps": 250,
        "validations": [{"step": 250, "minutes": 41.2, "during_fit": True, "val/accuracy": 0.88}],
    }
    write_results(results, options)
    written = json.loads((tmp_path / "results.json").read_text())
    assert (
        written["time_to_score"]["java"]["gave_up"]
        and written["targets"]["java_time_to_score_under_15_min"] is False
    )
    assert write_results(results, options) == markdown(results)


def test_time_to_score_stops_at_the_first_validation_that_reaches_the_target(tmp_path):
    from bench.time_to_score import main

    out = tmp_path / "java.json"
    record = main(
        [
            "java",
            "--config",
            "configs/tiny/java_instruct.yaml",
            "--target",
            "0.0",
            "--out",
            str(out),
            "--",
            "--trainer.max_steps",
            "4",
            "--trainer.val_check_interval",
            "2",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.enable_model_summary",
            "false",
            "--model.init_args.max_new_tokens",
            "2",
            "--data.init_args.compile_check",
            "false",
        ]
    )
    assert record == json.loads(out.read_text())
    assert (
        record["reached"] and record["step"] == record["steps"] == 2
    )  # stopped at the first validation, step 2 of 4
    # 2 new tokens are never a whole method: an accuracy above 0 would be a metric giving credit for nothing.
    assert (
        record["validations"][0]["val/accuracy"] == 0.0
        and 0 < record["minutes_to_target"] <= record["minutes_total"]
    )
    assert record["monitor"] == "val/accuracy" and record["machine"] and record["fit_args"][-1] == "false"
    # Evaluation's time is counted (the sanity check and the validation at step 2): a share of the whole.
    assert 0 < record["evaluation_minutes"] <= record["minutes_to_target"]
    assert 0 < record["evaluation_share"] < 1


def test_time_to_score_gives_up_at_the_first_validation_past_its_limit(tmp_path):
    from bench.time_to_score import main

    out = tmp_path / "java.json"
    record = main(
        [
            "java",
            "--config",
            "configs/tiny/java_instruct.yaml",
            "--target",
            "2.0",
            "--limit_minutes",
            "0.001",
            "--out",
            str(out),
            "--",
            "--trainer.max_steps",
            "4",
            "--trainer.val_check_interval",
            "2",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.enable_model_summary",
            "false",
            "--model.init_args.max_new_tokens",
            "2",
            "--data.init_args.compile_check",
            "false",
        ]
    )
    assert not record["reached"] and record["gave_up"] and record["minutes_to_target"] is None
    assert (
        record["steps"] == 2 and len(record["validations"]) == 1
    )  # an accuracy of 2 is never reached: stopped at step 2


def test_the_benchmark_table_shows_each_time_to_score_with_its_curve():
    from bench.vs_hf import _time_to_score_lines

    base = {"mode": "max", "config": "c.yaml", "fit_args": [], "limit_minutes": 45}
    sums = {
        **base,
        "monitor": "val/exact",
        "target": 0.9,
        "reached": True,
        "minutes_to_target": 30.04,
        "step": 100,
        "evaluation_minutes": 6.0,
        "evaluation_share": 0.2,
        "precision": "32-true",
        "cpu": "AVX2, native bf16: no",
        "validations": [
            {"step": 50, "minutes": 20.0, "during_fit": True, "val/exact": 0.5},
            {"step": 100, "minutes": 30.04, "during_fit": True, "val/exact": 0.95},
        ],
    }
    java = {
        **base,
        "monitor": "val/accuracy",
        "target": 0.95,
        "reached": False,
        "minutes_to_target": None,
        "gave_up": True,
        "minutes_total": 46.0,
        "steps": 250,
        "fit_args": ["--validate_before_fit", "false"],
        "validations": [
            {"step": 0, "minutes": 5.0, "during_fit": False, "val/accuracy": 0.0},
            {"step": 250, "minutes": 46.0, "during_fit": True, "val/accuracy": 0.9},
        ],
    }
    lines = "\n".join(_time_to_score_lines({"sums": sums, "java": java, "broken": {"error": ["boom"]}}))
    assert "| 32-true, AVX2 |" in lines  # the precision and the CPU class of every row
    assert "| **30.0 min** (step 100) | 6.0 min (20%) | 50: 20.0 min, 0.50; 100: 30.0 min, 0.95 |" in lines
    # A record from before evaluation was timed says so.
    assert "gave up at the 45-min limit) | not recorded | 250: 46.0 min, 0.90 |" in lines
    assert "0: 5.0 min" not in lines  # the untrained model's score is not part of the curve
    assert "`--validate_before_fit false`" in lines and "failed: ['boom']" in lines
    assert _time_to_score_lines({}) == []


def test_the_benchmark_runs_time_to_score_in_its_own_process_with_the_limit_and_threads(
    tmp_path, monkeypatch
):
    import argparse
    import subprocess

    from bench import vs_hf

    calls = []

    def fake_run(command, env, **kwargs):  # what the child would write: its record
        calls.append((command, env))
        out = Path(command[command.index("--out") + 1])
        out.write_text(json.dumps({"task": command[3], "reached": True, "minutes_to_target": 1.5}))
        return subprocess.CompletedProcess(command, 0, stdout="done", stderr="")

    monkeypatch.setattr(vs_hf.subprocess, "run", fake_run)
    options = argparse.Namespace(
        device="cuda", threads=3, time_to_score_limit=20.0
    )  # cuda: no wait for idle cores
    record = vs_hf.time_to_score("sums", options, tmp_path)
    [(command, env)] = calls
    assert command[1:4] == ["-m", "bench.time_to_score", "sums"]
    assert command[command.index("--limit_minutes") + 1] == "20.0" and env["OMP_NUM_THREADS"] == "3"
    assert record["minutes_to_target"] == 1.5 and (tmp_path / "time_to_score_sums.log").read_text() == "done"

    monkeypatch.setattr(
        vs_hf.subprocess,
        "run",
        lambda command, **kwargs: subprocess.CompletedProcess(
            command, 1, stdout="", stderr="Traceback\nValueError: boom"
        ),
    )
    assert vs_hf.time_to_score("java", options, tmp_path)["error"] == ["ValueError: boom"]


def test_the_generation_benchmark_runs_only_the_kinds_asked_and_names_an_unknown_one(tmp_path):
    import subprocess
    import sys

    def generate(*kinds):
        out = tmp_path / "generate.json"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.runs",
                "generate",
                "--config",
                "configs/tiny/sums.yaml",
                "--out",
                str(out),
                "--repeats",
                "1",
                "--threads",
                "1",
                "--kinds",
                *kinds,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return run, out

    run, out = generate("batched", "batched_transformers")
    assert run.returncode == 0, run.stderr[-2000:]
    record = json.loads(out.read_text())
    assert list(record["runs"]) == ["batched", "batched_transformers"] and record["same_text_fraction"] == 1.0
    assert record["same_text_fraction_beams"] is None  # no beam kind asked for

    run, _ = generate("batched", "batched_beams")  # the tiny sums config decodes greedily: no beam kinds
    assert run.returncode != 0 and "--kinds: ['batched_beams'] not among this config's kinds" in run.stderr


def test_the_packed_kernel_comparison_generates_in_both_layouts(monkeypatch, tmp_path):
    """bench/cpu_4bit_kernel.py on the tiny config, the native-bf16 CPU simulated (its packed kernel is a
    plain-torch stand-in here): lit's layout first, then every layer packed by bitsandbytes' own eval forward.
    """
    import bench.cpu_4bit_kernel as kernel
    from tests.helpers.native_bf16 import simulate_native_bf16_bitsandbytes

    simulate_native_bf16_bitsandbytes(monkeypatch)
    monkeypatch.setattr(kernel, "cpu_flags_have_native_bf16", lambda: True)
    out = tmp_path / "kernel.json"
    record = kernel.main(
        ["--config", "configs/tiny/sums.yaml", "--precision", "32-true", "--repeats", "1", "--out", str(out)]
    )
    assert record == json.loads(out.read_text())
    assert (
        record["prompts"] == 8 and record["distinct_prompts"] <= 8 and 0 <= record["same_generations"] <= 8
    )  # one batch
    assert record["seconds_lit_layout"] > 0 and record["seconds_packed_kernel"] > 0


def test_the_packed_kernel_comparison_refuses_a_cpu_without_it(monkeypatch):
    import bench.cpu_4bit_kernel as kernel

    monkeypatch.setattr(kernel, "cpu_flags_have_native_bf16", lambda: False)
    with pytest.raises(SystemExit, match="no native bf16"):
        kernel.main(["--config", "configs/tiny/sums.yaml"])


@pytest.mark.parametrize("precision", ["32-true"])
def test_the_beam_baseline_runs_the_search_lit_runs(precision):
    """transformers' `generate` called as the benchmark calls it (`transformers_search`) gives lit's beam
    tokens where rows finish at different steps, so a speed ratio compares the same search."""
    import torch

    from bench.runs import transformers_search
    from modules.generation import beam_generate
    from tests.helpers import java_batch
    from tests.helpers.precision import random_adapter_module

    torch.manual_seed(0)
    module = random_adapter_module(TINY_MISTRAL, precision)
    batch = java_batch(TINY_MISTRAL)
    prompts, mask, pad = batch["prompt_ids"], batch["prompt_mask"], module.tokenizer.pad_token_id

    def baseline(eos: int) -> list[list[int]]:  # each row up to and including its first EOS
        new = module.model.generate(
            input_ids=prompts,
            attention_mask=mask,
            max_new_tokens=16,
            pad_token_id=pad,
            eos_token_id=eos,
            **transformers_search(4),
        )[:, prompts.shape[1] :].tolist()
        return [row[: row.index(eos) + 1] if eos in row else row for row in new]

    # As EOS, the token whose first use varies most across rows: beams finish at different steps,
    # where stopping early or not changes the result.
    first = baseline(module.tokenizer.eos_token_id)
    eos = max(
        {t for row in first for t in row}, key=lambda t: len({row.index(t) for row in first if t in row})
    )
    ours = beam_generate(module.model, prompts, mask, 16, eos, pad, num_beams=4).tolist()
    assert baseline(eos) == [row[: row.index(eos) + 1] if eos in row else row for row in ours]
    assert transformers_search(1) == {"do_sample": False, "num_beams": 1}


def test_the_text_differences_name_each_prompt_and_each_kind_s_text():
    from bench.runs import text_differences

    items = [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}]
    texts = {"batched": ["x", "y", "z"], "batched_transformers": ["x", "Y", "z"]}
    assert text_differences(texts, items) == [
        {"prompt_index": 1, "prompt": "b", "batched": "y", "batched_transformers": "Y"}
    ]


def timed_run(tmp_path: Path, system: str, *flags: str) -> dict:
    """`python -m bench.runs SYSTEM` on the tiny sums config (1 warm-up step, 3 timed); its result."""
    import subprocess
    import sys

    out = tmp_path / f"{system}{'-'.join(flags)}.json"
    config = ["--config", "configs/tiny/sums.yaml", "--out", str(out), "--workdir", str(tmp_path / "work")]
    window = ["--warmup", "1", "--steps", "3", "--threads", "1"]
    command = [sys.executable, "-m", "bench.runs", system, *config, *window, *flags]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_the_timed_windows_of_lit_and_the_trainer_hold_the_same_batches(tmp_path):
    """The Trainer run given lit's batch order trains on exactly lit's batches in the timed window (same
    digest, same real tokens); with its own length grouping it would not."""
    lit, trainer = timed_run(tmp_path, "lit"), timed_run(tmp_path, "hf")
    grouped = timed_run(tmp_path, "hf", "--sampling", "group_by_length")
    assert lit["data_digest"] == trainer["data_digest"] == grouped["data_digest"]  # the same examples
    assert lit["window_digest"] == trainer["window_digest"] and lit["tokens"] == trainer["tokens"] > 0
    assert lit["padded_positions"] == trainer["padded_positions"]
    assert grouped["window_digest"] != lit["window_digest"]  # the check sees other batches


def test_the_table_says_which_kinds_agree_on_each_prompt_that_differs():
    from bench.vs_hf import _difference_lines

    differences = [
        {
            "prompt_index": 3,
            "prompt": "p",
            "batched": "ab",
            "batched_transformers": "ab",
            "one_at_a_time": "ax",
        }
    ]
    [line] = [line for line in _difference_lines(differences) if line.startswith("- ")]
    agree = "`batched` = `batched_transformers`; `one_at_a_time`"
    assert line == f"- prompt 3 (`'p'`): {agree}; the texts part at character 1"
    assert _difference_lines([]) == []


def test_trl_padding_free_trains_on_lit_s_batches_in_its_timed_window(tmp_path):
    """TRL is a benchmark-only extra (`.[bench]`): where it is installed, its padding-free row trains on
    exactly lit's examples a step (one flattened row each), by the same window digest."""
    pytest.importorskip("trl")
    lit, trl = timed_run(tmp_path, "lit"), timed_run(tmp_path, "trl", "--trl_mode", "padding_free")
    assert (
        trl["window_digest"] == lit["window_digest"]
        and trl["tokens"] == lit["tokens"] == trl["padded_positions"]
    )
    packed = timed_run(tmp_path, "trl", "--trl_mode", "packing")
    assert packed["real_token_fraction"] == 1.0 and packed["window_digest"] != lit["window_digest"]


def test_the_compile_benchmark_pads_every_batch_to_one_shape_and_trains_the_same_tokens():
    import torch

    from bench.compile_step import fixed_width
    from modules.loss import IGNORE_INDEX

    batch = {
        "input_ids": torch.tensor([[5, 6, 7], [5, 6, 0]]),
        "labels": torch.tensor([[-100, 6, 7], [-100, 6, -100]]),
        "attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]]),
        "logit_positions": torch.tensor([1, 2, 4]),
    }
    bounded = fixed_width(batch, 8, pad_token_id=0)
    assert bounded["input_ids"].shape == bounded["labels"].shape == bounded["attention_mask"].shape == (2, 8)
    assert "logit_positions" not in bounded and bounded["pads_right"]  # every position: one shape
    assert (
        torch.equal(bounded["labels"][:, :3], batch["labels"])
        and (bounded["labels"][:, 3:] == IGNORE_INDEX).all()
    )
    assert bounded["attention_mask"].sum() == batch["attention_mask"].sum()  # the same real tokens
