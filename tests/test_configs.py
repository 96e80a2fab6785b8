from pathlib import Path

import pytest

from lit.cli import cli_main

CONFIGS = sorted(str(p) for p in Path("configs").rglob("*.yaml"))
TASK_CONFIGS = [c for c in CONFIGS if c != "configs/debug.yaml" and "/strategies/" not in c]


def test_every_config_is_found():
    assert "configs/mistral_sums.yaml" in CONFIGS and "configs/embedded/sums.yaml" in CONFIGS


@pytest.mark.parametrize("config", TASK_CONFIGS)
def test_config_parses(config, capsys):
    with pytest.raises(SystemExit) as exit:
        cli_main(["fit", "--config", config, "--print_config"])
    assert exit.value.code in (0, None)
    out = capsys.readouterr().out
    assert "class_path: modules.CausalLM" in out


def test_debug_overlay_parses_on_a_task(capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", "configs/tiny/sums.yaml", "--config", "configs/debug.yaml", "--print_config"])
    assert "fast_dev_run: true" in capsys.readouterr().out


def test_debug_overlay_runs(tmp_path):
    cli = cli_main(["fit", "--config", "configs/tiny/sums.yaml", "--config", "configs/debug.yaml",
                    "--trainer.default_root_dir", str(tmp_path)])  # fmt: skip
    assert cli.trainer.state.finished and cli.trainer.global_step == 1


@pytest.mark.parametrize("overlay", sorted(str(p) for p in Path("configs/strategies").glob("*.yaml")))
def test_strategy_overlays_parse_on_a_task(overlay, capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", "configs/embedded/sums.yaml", "--config", overlay, "--print_config"])
    out = capsys.readouterr().out
    assert "strategy:" in out and Path(overlay).stem.replace("ddp", "DDP")[:3].lower() in out.lower()


@pytest.mark.parametrize("config", [c for c in TASK_CONFIGS if "/tiny/" not in c])
def test_task_configs_log_to_wandb(config, capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", config, "--print_config"])
    out = capsys.readouterr().out
    assert "class_path: lit.loggers.WandbLogger" in out and "mode: auto" in out
