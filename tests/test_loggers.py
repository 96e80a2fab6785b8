"""W&B logging: offline without credentials, generation tables, the same prompts every time."""

import json

import pytest

from lit.cli import cli_main
from lit.loggers import WandbLogger, resolve_wandb_mode
from tests.helpers import wandb_fit_args
from tests.helpers.wandb_offline import HEADER, RECORD_HEADER, IncompleteRun, read_offline_run, read_records


def test_no_credentials_means_offline_and_wandb_mode_wins(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    assert resolve_wandb_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_wandb_mode("auto") == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_wandb_mode("auto") == "disabled"  # WANDB_MODE, when set, decides
    assert resolve_wandb_mode("offline") == "offline"


def test_tiny_fit_logs_to_an_offline_wandb_run_with_generation_tables(
    tiny_fit_args, tmp_path, monkeypatch, caplog
):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    cli = cli_main(wandb_fit_args(tiny_fit_args, tmp_path, "--trainer.logger.log_model", "true"))
    logger = cli.trainer.logger
    assert isinstance(logger, WandbLogger) and logger.wandb_mode == "offline"
    assert [r.message for r in caplog.records if "wandb sync" in r.message]  # the one line on how to upload
    import wandb

    wandb.finish()
    [run_dir] = (tmp_path / "wandb").glob("offline-run-*")
    run = read_offline_run(run_dir)
    # The summary holds the validation metrics the trainer ended with.
    for key in ("val/mae", "val/exact", "val/loss", "val/ppl"):
        assert run["summary"][key] == pytest.approx(float(cli.trainer.callback_metrics[key]), rel=1e-5)
    assert "train/lr" in run["summary"] and "train/peak_memory_gib" in run["summary"]
    # The generation table: a W&B Table of the first 3 held-out prompts.
    table = run["summary"]["val/generations"]
    assert table["_type"] == "table-file" and table["nrows"] == 3
    [table_file] = (run_dir / "files").rglob("val/generations_*.table.json")
    rows = json.loads(table_file.read_text())
    assert rows["columns"] == ["prompt", "generated", "reference", "score"]
    assert len(rows["data"]) == 3 and all("es igual a" in r[0] for r in rows["data"])
    # The resolved config is the run's hyperparameters.
    assert run["config"]["config"]["model"]["init_args"]["lora"]["r"] == 8
    # log_model: the checkpoint is a model artifact of the run, uploaded by `wandb sync`.
    models = [a for a in run["artifacts"] if a["type"] == "model"]
    assert models and "model.ckpt" in models[0]["files"]
    # The local copies beside the checkpoints.
    local = logger.run_dir
    assert (local / "checkpoints" / "last.ckpt").is_file() and (local / "config.yaml").is_file()
    metrics = [json.loads(line) for line in (local / "metrics.jsonl").read_text().splitlines()]
    assert any("val/mae" in m for m in metrics)
    generations = [json.loads(line) for line in (local / "generations.jsonl").read_text().splitlines()]
    assert len(generations) == 3 and generations[0]["set"] == "val"


def test_same_prompts_are_logged_at_every_validation(tiny_fit_args, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    cli = cli_main(wandb_fit_args(tiny_fit_args, tmp_path, "--trainer.max_epochs", "2"))
    rows = [
        json.loads(line)
        for line in (cli.trainer.logger.run_dir / "generations.jsonl").read_text().splitlines()
    ]
    steps = sorted({r["step"] for r in rows})
    assert len(steps) == 2
    by_step = [[r["prompt"] for r in rows if r["step"] == s] for s in steps]
    assert by_step[0] == by_step[1] and len(by_step[0]) == 3


def test_the_offline_run_reader_refuses_a_record_cut_short_or_failing_its_crc(tmp_path):
    import zlib

    data = b"a record"
    crc = zlib.crc32(data, zlib.crc32(bytes([1]))) & 0xFFFFFFFF
    whole = HEADER.pack(b":W&B", 0xBEE1, 0) + RECORD_HEADER.pack(crc, len(data), 1) + data
    path = tmp_path / "run.wandb"
    path.write_bytes(whole)
    assert read_records(path) == [data]
    for broken in (whole[:-3], whole[:-1] + b"X"):  # still being written; a byte changed
        path.write_bytes(broken)
        with pytest.raises(IncompleteRun):
            read_records(path)
