"""Preference runs end to end on the tiny model: fit with the task's held-out score before and after and the
reward curve logged, pairs written from a checkpoint's mistakes, exact resume, export, DDP, bad files."""

import csv
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from datamodules.preferences import PreferenceDataModule
from lit.cli import cli_main
from modules.causal_lm import CausalLM
from tests.helpers import TINY_MISTRAL
from tests.helpers.processes import csv_logger, last_metrics, run_lit

pytestmark = pytest.mark.usefixtures("one_thread")  # the same thread count in every compared run

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def dpo_args(folder, *extra) -> list[str]:
    return [
        "fit",
        "--config",
        "configs/tiny/dpo.yaml",
        *QUIET,
        "--trainer.default_root_dir",
        str(folder),
        *csv_logger(folder),
        "--trainer.logger.name",
        "",
        "--trainer.logger.version",
        "run",
        *extra,
    ]


def logged(folder) -> list[dict]:
    with open(folder / "run" / "metrics.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory):
    """One tiny DPO fit, scored on the task's held-out `val` before training and every 3 steps."""
    folder = tmp_path_factory.mktemp("dpo")
    cli_main(dpo_args(folder, "--validate_before_fit", "true"))
    return folder


def test_fit_logs_the_reward_curve_and_the_held_out_metric_before_and_after(dpo_run):
    rows = logged(dpo_run)
    train = [r for r in rows if r.get("train/reward_accuracy")]
    assert [int(r["step"]) for r in train] == list(range(6))  # a reward accuracy every step: the curve
    for key in ("train/loss", "train/rewards_chosen", "train/rewards_rejected", "train/margin"):
        assert all(r[key] for r in train), key
    first = train[0]
    assert float(first["train/loss"]) == pytest.approx(0.6931, abs=1e-3)  # step 0: policy = reference
    assert float(first["train/margin"]) == pytest.approx(0.0, abs=1e-6)
    assert float(train[-1]["train/margin"]) > 0  # the chosen answers gain on the rejected ones
    scored = [r for r in rows if r.get("val/mae")]
    assert len(scored) == 3  # before training, at step 3, at step 6: the task's own held-out metric


def test_preference_pairs_come_from_the_checkpoints_wrong_answers_on_training_prompts(dpo_run, tmp_path):
    out = tmp_path / "pairs.jsonl"
    ckpt = dpo_run / "run" / "checkpoints" / "last.ckpt"
    cli_main(["data", "preferences", "--ckpt", str(ckpt), "--out", str(out), "--wrong", "error"])
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records and all(set(r) == {"prompt", "chosen", "rejected"} for r in records)
    # A random model's sums are wrong; chosen is the training answer, and the file trains as it is.
    task = torch.load(ckpt, weights_only=True)["lit_datamodule"]["init_args"]["task"]  # the run's task
    data = PreferenceDataModule(tokenizer=TINY_MISTRAL, train_file=str(out), task=task)
    data.setup("fit")
    train = {e["prompt"]: e["completion"] for e in data.task_data.generate_examples("train")}
    held_out = {e["prompt"] for e in data.task_data.generate_examples("val")}
    assert all(train[r["prompt"]] == r["chosen"] for r in records)
    assert not held_out & {r["prompt"] for r in records}


def test_a_resumed_run_from_a_trained_adapter_equals_an_uninterrupted_one(dpo_run, tmp_path, monkeypatch):
    """Starting from a trained adapter (the reference is its frozen copy), stopped by SIGTERM after 4 of 6
    steps and resumed: the same losses and rewards step by step and the same adapter at the end."""
    start = ["--model.init_args.init_weights", str(dpo_run / "run" / "checkpoints" / "last.ckpt")]
    no_val = ["--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0"]
    cli_main(dpo_args(tmp_path / "straight", *start, *no_val))

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.global_step == 4:  # mid-way through the second epoch, as a scheduler would stop it
            os.kill(os.getpid(), signal.SIGTERM)

    with monkeypatch.context() as patch:
        patch.setattr(CausalLM, "on_train_batch_end", on_train_batch_end)
        with pytest.raises(SystemExit):
            cli_main(dpo_args(tmp_path / "first", *start, *no_val))
    ckpt = tmp_path / "first" / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["global_step"] == 4
    cli_main(dpo_args(tmp_path / "second", *start, *no_val, "--ckpt_path", str(ckpt)))
    straight = {int(r["step"]): r for r in logged(tmp_path / "straight") if r.get("train/loss")}
    pieces = {
        int(r["step"]): r
        for folder in ("first", "second")
        for r in logged(tmp_path / folder)
        if r.get("train/loss")
    }
    assert sorted(straight) == sorted(pieces) == list(range(6))
    assert float(straight[0]["train/loss"]) == pytest.approx(0.6931, abs=1e-3)  # the reference is the start
    for step in straight:
        for key in ("train/loss", "train/margin", "train/reward_accuracy"):
            assert float(pieces[step][key]) == pytest.approx(float(straight[step][key]), abs=1e-6), (
                step,
                key,
            )
    a = torch.load(tmp_path / "straight" / "run" / "checkpoints" / "last.ckpt", weights_only=True)[
        "state_dict"
    ]
    b = torch.load(tmp_path / "second" / "run" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert set(a) == set(b) and all(torch.allclose(a[k], b[k], atol=1e-6, rtol=0) for k in a)


def test_a_preference_checkpoint_exports_like_an_sft_one(dpo_run, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "export"
    cli_main(["export", "--ckpt_path", str(dpo_run / "run" / "checkpoints" / "last.ckpt"), "--out", str(out)])
    base = AutoModelForCausalLM.from_pretrained(TINY_MISTRAL)
    adapted = PeftModel.from_pretrained(base, str(out / "adapter"))
    assert any("lora_B" in n and p.any() for n, p in adapted.named_parameters())  # trained, not zero
    assert (out / "merged" / "config.json").is_file()


def test_ddp_on_two_cpu_processes_trains_on_pairs(tmp_path):
    run_lit(
        [
            *dpo_args(tmp_path, "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0"),
            "--config",
            "configs/strategies/ddp.yaml",
            "--trainer.accelerator",
            "cpu",
            "--trainer.devices",
            "2",
            "--data.init_args.batch_size",
            "2",  # 2 pairs per process: the 4 of one process's batch
        ]
    )
    metrics = last_metrics(tmp_path)
    assert metrics["step"] == 5 and 0 <= metrics["train/reward_accuracy"] <= 1
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_a_bad_preference_file_is_one_line_naming_file_and_record(tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = {"prompt": "3 es igual a", "chosen": "tres", "rejected": "dos"}
    bad.write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "rejected": "tres"}) + "\n", encoding="utf-8"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "lit",
            "fit",
            "--config",
            "configs/tiny/dpo.yaml",
            "--data.init_args.train_file",
            str(bad),
            "--trainer.default_root_dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    message = [line for line in run.stderr.splitlines() if line.startswith("lit: error:")]
    assert message == [
        f"lit: error: {bad}:2: 'chosen' and 'rejected' are the same response; a pair needs two"
    ]


def test_pairs_without_a_task_train_reference_free_with_no_evaluation(tmp_path):
    """No task: the pairs render with the tokenizer's chat template and nothing is scored; SimPO has no
    reference, so its first step is not log 2."""
    no_task = ["--data.init_args.task", "null", "--model.init_args.preference.loss_type", "simpo"]
    cli = cli_main(dpo_args(tmp_path, *no_task))
    assert cli.trainer.global_step == 6
    rows = logged(tmp_path)
    assert not [r for r in rows if any(k.startswith("val/") and v for k, v in r.items())]
    first = next(r for r in rows if r.get("train/loss"))
    assert abs(float(first["train/loss"]) - 0.6931) > 1e-2 and float(first["train/rewards_chosen"]) < 0


def test_a_conversation_becomes_a_conversational_pair_and_wrong_follows_the_rule():
    from lit.data.preferences import is_wrong, pair_record

    turns = [{"role": "user", "content": "3 es igual a"}, {"role": "assistant", "content": "tres"}]
    record = pair_record({"messages": turns}, {"messages": turns[:1]}, "dos")
    assert record == {
        "prompt": turns[:1],
        "chosen": [{"role": "assistant", "content": "tres"}],
        "rejected": [{"role": "assistant", "content": "dos"}],
    }
    assert is_wrong("differs", " dos ", "tres", None) and not is_wrong("differs", " tres", "tres", None)
    assert is_wrong("error", "x", "y", 2.0) and not is_wrong("error", "x", "y", 0.0)  # an error: 0 is right
    assert is_wrong("below-one", "x", "y", 0.5) and not is_wrong("below-one", "x", "y", 1.0)  # an accuracy


def test_pairs_given_to_a_model_without_preference_settings_are_refused(tmp_path):
    from modules.errors import UserInputError

    args = dpo_args(tmp_path, "--model.init_args.preference", "null", "--trainer.max_steps", "1")
    with pytest.raises(UserInputError, match="preference pairs but the model trains supervised"):
        cli_main(args)
