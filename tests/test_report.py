"""`lit report`: plots and a summary from a run's metrics."""

import pytest

from lit.cli import cli_main
from tests.helpers import wandb_fit_args


def test_report_writes_png_plots_and_a_summary(tiny_fit_args, tmp_path, monkeypatch):
    from lit.report import write_report

    monkeypatch.setenv("WANDB_MODE", "disabled")
    cli_main(wandb_fit_args(tiny_fit_args, tmp_path, "--trainer.max_epochs", "2"))
    cli_main(["report", str(tmp_path)])
    [report] = tmp_path.rglob("report.md")
    text = report.read_text()
    assert "val/mae" in text and "```yaml" in text
    # A proportion is quoted with its 95% interval over the set's distinct items, logged by the evaluation.
    [exact] = [line for line in text.splitlines() if line.startswith("| val/exact |")]
    [distinct] = [line for line in text.splitlines() if line.startswith("| val/distinct |")]
    n = int(float(distinct.split("|")[5]))
    assert n > 0 and exact.rstrip(" |").endswith(f"({n})")
    pngs = sorted(p.name for p in report.parent.glob("*.png"))
    assert {"loss.png", "mae.png"} <= set(pngs)
    for name in pngs:
        assert (report.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A CSVLogger run reports too.
    csv_dir = tmp_path / "csv"
    cli_main(
        tiny_fit_args
        + [
            "--trainer.logger",
            "lightning.pytorch.loggers.CSVLogger",
            "--trainer.logger.save_dir",
            str(csv_dir),
        ]
    )
    assert "val/mae" in write_report(csv_dir).read_text()


def test_report_on_a_folder_without_metrics_says_so(tmp_path, capsys):
    from modules.errors import UserInputError

    with pytest.raises(UserInputError, match="no metrics.jsonl or metrics.csv"):
        cli_main(["report", str(tmp_path)])
