"""Issue 4: W&B offline by default, generation tables, the local report, export, summary lines."""

import json
from pathlib import Path

import pytest
import torch

from lit.cli import cli_main
from lit.loggers import WandbLogger, resolve_wandb_mode
from tests.precision import PRECISIONS
from tests.wandb_offline import read_offline_run


def wandb_fit_args(tiny_fit_args, tmp_path, *extra):
    return tiny_fit_args + [
        "--trainer.logger", "lit.loggers.WandbLogger",
        "--trainer.logger.save_dir", str(tmp_path),
        "--trainer.max_epochs", "1",
        "--model.init_args.log_generations", "3",
        *extra,
    ]  # fmt: skip


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


def test_tiny_fit_logs_to_an_offline_wandb_run_with_generation_tables(tiny_fit_args, tmp_path, monkeypatch, caplog):
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
    rows = [json.loads(line) for line in (cli.trainer.logger.run_dir / "generations.jsonl").read_text().splitlines()]
    steps = sorted({r["step"] for r in rows})
    assert len(steps) == 2
    by_step = [[r["prompt"] for r in rows if r["step"] == s] for s in steps]
    assert by_step[0] == by_step[1] and len(by_step[0]) == 3


def test_report_writes_png_plots_and_a_summary(tiny_fit_args, tmp_path, monkeypatch):
    from lit.report import write_report

    monkeypatch.setenv("WANDB_MODE", "disabled")
    cli_main(wandb_fit_args(tiny_fit_args, tmp_path, "--trainer.max_epochs", "2"))
    cli_main(["report", str(tmp_path)])
    [report] = tmp_path.rglob("report.md")
    text = report.read_text()
    assert "val/mae" in text and "```yaml" in text
    pngs = sorted(p.name for p in report.parent.glob("*.png"))
    assert {"loss.png", "mae.png"} <= set(pngs)
    for name in pngs:
        assert (report.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A CSVLogger run reports too.
    csv_dir = tmp_path / "csv"
    cli_main(tiny_fit_args + ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", str(csv_dir)])
    assert "val/mae" in write_report(csv_dir).read_text()


def test_report_on_a_folder_without_metrics_says_so(tmp_path, capsys):
    from modules.errors import UserInputError

    with pytest.raises(UserInputError, match="no metrics.jsonl or metrics.csv"):
        cli_main(["report", str(tmp_path)])


@pytest.mark.parametrize("precision", PRECISIONS)
def test_export_4bit_lora_loads_in_plain_peft_and_transformers(tiny_fit_args, tmp_path, precision):
    """A run trained in bf16 exports as one trained in fp32: the check compares both in fp32."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    from tests.conftest import TINY_MISTRAL

    cli_main(tiny_fit_args + ["--trainer.precision", precision])
    out = tmp_path / "export"
    cli_main(["export", "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt"), "--out", str(out)])
    check = json.loads((out / "export_check.json").read_text())
    assert check["quantized_base"] and check["same_greedy_output"] == check["prompts"] == 8
    assert check["max_abs_logit_diff"] <= check["atol"] == 1e-3 and check["saved_dtype"] == "float32"  # the base's
    assert (out / "adapter" / "adapter_model.safetensors").is_file()

    tokenizer = AutoTokenizer.from_pretrained(out / "merged")
    quantized = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=torch.float32)  # fmt: skip
    base = AutoModelForCausalLM.from_pretrained(TINY_MISTRAL, quantization_config=quantized, dtype=torch.float32)
    adapter = PeftModel.from_pretrained(base, out / "adapter").eval()
    merged = AutoModelForCausalLM.from_pretrained(out / "merged").eval()
    assert not any(".lora_" in name for name, _ in merged.named_parameters())
    trained_b = [p for n, p in adapter.named_parameters() if "lora_B" in n]
    assert any(p.abs().sum() > 0 for p in trained_b)  # the adapter is the trained one, not a fresh zero init
    prompts = ["<s>[INST] 33 es igual a [/INST]", "<s>[INST] 12 es igual a [/INST]"]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    kwargs = dict(max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    with torch.no_grad():
        from_adapter = adapter.generate(**batch, **kwargs)
        from_merged = merged.generate(**batch, **kwargs)
    assert torch.equal(from_adapter, from_merged)

    if precision == "bf16-mixed":  # saved in the dtype asked for, checked in fp32 all the same
        cli_main(["export", "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt"), "--out", str(out / "bf16"),
                  "--dtype", "bfloat16"])  # fmt: skip
        check = json.loads((out / "bf16" / "export_check.json").read_text())
        assert check["saved_dtype"] == "bfloat16" and check["compared_in"] == "float32"
        assert AutoModelForCausalLM.from_pretrained(out / "bf16" / "merged").dtype == torch.bfloat16


def test_export_refuses_when_the_merged_model_differs(tiny_fit_args, tmp_path, monkeypatch):
    import lit.export
    from lit.export import ExportCheckError, export

    merge = lit.export.merge

    def broken_merge(module, adapter_dir):  # a merge that gets one layer wrong
        model = merge(module, adapter_dir)
        with torch.no_grad():
            model.model.layers[0].self_attn.o_proj.weight.add_(0.05)
        return model

    monkeypatch.setattr(lit.export, "merge", broken_merge)
    cli_main(tiny_fit_args)
    with pytest.raises(ExportCheckError, match="logits differ by up to"):
        export(str(tmp_path / "checkpoints" / "last.ckpt"), str(tmp_path / "export"))
    assert not (tmp_path / "export" / "merged").exists()


def test_validate_prints_one_summary_line(tiny_fit_args, tmp_path, caplog):
    cli_main(["validate"] + tiny_fit_args[1:])
    lines = [r.message for r in caplog.records if r.message.startswith("lit: validate finished")]
    assert len(lines) == 1 and "val/mae" in lines[0] and "tokens/s" in lines[0]
