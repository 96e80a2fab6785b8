"""The command line: bad input is one message, validate_before_fit scores the untrained model first."""

from lit.cli import cli_main


def test_bad_input_is_one_message_not_a_traceback(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "3 es igual a", "completion": "tres"}\n{"prompt": \n', encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "lit",
            "fit",
            "--config",
            "configs/tiny/sums.yaml",
            "--data.init_args.train_file",
            str(bad),
            "--trainer.default_root_dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert f"lit: error: {bad}:2: not valid JSON" in run.stderr
    assert "Traceback" not in run.stderr


def test_validate_before_fit_scores_the_untrained_model_first(tiny_fit_args, tmp_path):
    import csv

    cli = cli_main(
        tiny_fit_args
        + [
            "--validate_before_fit",
            "true",
            "--trainer.max_epochs",
            "1",
            "--trainer.logger",
            "lightning.pytorch.loggers.CSVLogger",
            "--trainer.logger.save_dir",
            str(tmp_path),
        ]
    )
    rows = list(csv.DictReader(open(next(tmp_path.rglob("metrics.csv")))))
    val_rows = [r for r in rows if r.get("val/mae")]
    assert [int(r["step"]) for r in val_rows] == [0, cli.trainer.global_step - 1]  # before, then after
    rates = [float(r["train/tokens_per_s"]) for r in rows if r.get("train/tokens_per_s")]
    assert rates and all(0 < t < float("inf") for t in rates)
    # The rate counts real tokens: every training token of the epoch, padding left out.
    from lit.callbacks import TokenThroughput

    [counter] = [c for c in cli.trainer.callbacks if isinstance(c, TokenThroughput)]
    real = sum(int(batch["attention_mask"].sum()) for batch in cli.datamodule.train_dataloader())
    padded = sum(batch["attention_mask"].numel() for batch in cli.datamodule.train_dataloader())
    assert counter._total_tokens == real < padded


def test_a_checkpoint_that_records_a_retired_setting_still_validates(tiny_fit_args, tmp_path):
    """Checkpoints written before `merge_lora_for_generation` was removed record it among the model's
    hyperparameters; `validate --ckpt_path` drops it (with a line) instead of failing to parse."""
    import torch

    cli_main(
        tiny_fit_args
        + [
            "--trainer.max_steps",
            "1",
            "--trainer.limit_val_batches",
            "1",
            "--trainer.num_sanity_val_steps",
            "0",
        ]
    )
    [ckpt] = [p for p in tmp_path.rglob("*.ckpt") if p.name == "last.ckpt"]
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["hyper_parameters"]["merge_lora_for_generation"] = False  # as an older lit wrote it
    torch.save(checkpoint, ckpt)
    args = ["validate", *tiny_fit_args[1:], "--ckpt_path", str(ckpt), "--trainer.limit_val_batches", "1"]
    assert "val/loss" in cli_main(args).trainer.callback_metrics
