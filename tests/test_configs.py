"""Every shipped config parses, the overlays apply, and the reference recipe keeps its shape."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from transformers import AutoModelForCausalLM, MistralConfig

from lit.cli import cli_main
from lit.loggers import WandbLogger
from modules.peft_config import LoraArgs, apply_lora, count_trainable

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
        cli_main(
            ["fit", "--config", "configs/tiny/sums.yaml", "--config", "configs/debug.yaml", "--print_config"]
        )
    assert "fast_dev_run: true" in capsys.readouterr().out


def test_debug_overlay_runs(tmp_path):
    cli = cli_main(
        [
            "fit",
            "--config",
            "configs/tiny/sums.yaml",
            "--config",
            "configs/debug.yaml",
            "--trainer.default_root_dir",
            str(tmp_path),
        ]
    )
    assert cli.trainer.state.finished and cli.trainer.global_step == 1


@pytest.mark.parametrize("overlay", sorted(str(p) for p in Path("configs/strategies").glob("*.yaml")))
def test_strategy_overlays_parse_on_a_task(overlay, capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", "configs/embedded/sums.yaml", "--config", overlay, "--print_config"])
    out = capsys.readouterr().out
    assert "strategy:" in out and Path(overlay).stem.replace("ddp", "DDP")[:3].lower() in out.lower()


@pytest.mark.parametrize("config", [c for c in TASK_CONFIGS if "/tiny/" not in c])
def test_task_configs_log_to_wandb_in_their_run_folder(config):
    cli = cli_main(["--config", config], run=False)
    logger, root = cli.trainer.logger, cli.trainer.default_root_dir
    assert isinstance(logger, WandbLogger) and logger.wandb_mode in ("online", "offline")
    assert Path(logger.save_dir) == Path(root) and logger._wandb_init["group"] == Path(root).name
    assert logger._wandb_init["project"] == "lit" and not logger._log_model


def test_the_wandb_logger_takes_settings_from_the_command_line_and_gives_way_to_another_or_none(tmp_path):
    sums = ["--config", "configs/embedded/sums.yaml"]
    disabled = cli_main(
        [
            *sums,
            "--trainer.logger.init_args.mode",
            "disabled",
            "--trainer.logger.init_args.log_model",
            "true",
        ],
        run=False,
    ).trainer.logger
    assert isinstance(disabled, WandbLogger) and disabled.wandb_mode == "disabled" and disabled._log_model
    assert disabled.save_dir == "runs/embedded_sums"
    own_folder = cli_main(
        [*sums, "--trainer.logger.init_args.save_dir", str(tmp_path)], run=False
    ).trainer.logger
    assert own_folder.save_dir == str(tmp_path) and own_folder._wandb_init["group"] == tmp_path.name
    csv = [
        "--trainer.logger",
        "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir",
        str(tmp_path),
    ]
    assert type(cli_main([*sums, *csv], run=False).trainer.logger) is CSVLogger
    assert cli_main([*sums, "--trainer.logger", "false"], run=False).trainer.logger is None


def test_reference_recipe_on_mistral_7b_has_4718592_trainable_lora_parameters():
    with torch.device("meta"):  # the real shapes, no memory
        model = AutoModelForCausalLM.from_config(MistralConfig())  # MistralConfig() is Mistral-7B
    model = apply_lora(
        model, LoraArgs(r=8, alpha=16, dropout=0.1, target_modules=["k_proj", "v_proj", "o_proj"])
    )
    # per layer: k, v (4096 -> 1024) 8*(4096+1024) each, o (4096 -> 4096) 8*8192; 32 layers
    assert count_trainable(model) == 32 * (2 * 8 * (4096 + 1024) + 8 * (4096 + 4096)) == 4_718_592


def test_print_config_shows_the_reference_recipe(capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", "configs/mistral_sums.yaml", "--print_config"])
    out = capsys.readouterr().out
    for line in (
        "model: unsloth/mistral-7b-instruct-v0.2-bnb-4bit",
        "r: 8",
        "alpha: 16",
        "dropout: 0.1",
        "- k_proj",
        "- v_proj",
        "- o_proj",
        "max_epochs: 30",
        "batch_size: 2",
        "lr: 0.0001",
        "num_examples: 600",
        "quant_type: nf4",
    ):
        assert line in out, line
