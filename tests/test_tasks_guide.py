"""docs/tasks.md, "Write your own task": the file and the config it shows, as written there, make a task
that inspects, trains and scores held-out words on the tiny model."""

import re
import sys

from datamodules.overlap import leaks
from lit.cli import cli_main
from tests.helpers import ROOT, TINY_MISTRAL

GUIDE = ROOT / "docs" / "tasks.md"


def guide_files(folder):
    """reverse.py and reverse.yaml, exactly as the guide shows them, written into `folder`."""
    text = GUIDE.read_text(encoding="utf-8")
    [code] = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if b.startswith("# reverse.py")]
    [config] = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("# reverse.yaml")]
    (folder / "reverse.py").write_text(code, encoding="utf-8")
    (folder / "reverse.yaml").write_text(config, encoding="utf-8")
    return folder / "reverse.yaml"


def test_the_guide_s_task_trains_and_scores_held_out_words(tmp_path, monkeypatch, capsys):
    config = guide_files(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # as running from the folder that holds both files
    monkeypatch.delitem(sys.modules, "reverse", raising=False)
    tiny = ["--model.init_args.model", TINY_MISTRAL, "--trainer.default_root_dir", str(tmp_path / "runs")]
    quiet = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    cli_main(["data", "inspect", "--config", str(config), *tiny])
    assert "reverse: " in capsys.readouterr().out  # the examples as rendered
    cli = cli_main(
        [
            "fit",
            "--config",
            str(config),
            *tiny,
            *quiet,
            "--trainer.max_steps",
            "4",
            "--trainer.val_check_interval",
            "2",
            "--data.init_args.num_examples",
            "32",
        ]
    )
    metrics = cli.trainer.callback_metrics
    assert {"val/exact", "val/loss", "val/hit_limit"} <= set(metrics) and 0.0 <= float(
        metrics["val/exact"]
    ) <= 1.0
    sets = {name: cli.datamodule.generate_examples(name) for name in ("train", "val", "test")}
    assert len(sets["val"]) == len({e["prompt"] for e in sets["val"]}) > 0  # distinct items
    words = {name: {e["prompt"].split(": ")[1] for e in examples} for name, examples in sets.items()}
    assert not words["val"] & words["test"]
    # No held-out word in a training prompt or completion, in any spelling the model reads or writes.
    assert not leaks(
        words["val"] | words["test"], [t for e in sets["train"] for t in (e["prompt"], e["completion"])]
    )
