"""The Java instruction task: generated examples, held-out words, configs that fit, two stages."""

import shutil

import pytest
import torch

from datamodules.java.families import FAMILIES, make_example
from datamodules.java.instruct import generate_java_instructions
from lit.cli import cli_main


def test_20000_generated_examples_are_unique_and_cover_every_family():
    examples = generate_java_instructions(20_000, seed=0)
    assert len({e["prompt"] for e in examples}) == 20_000
    assert len({(e["prompt"], e["completion"]) for e in examples}) == 20_000
    first_lines = {e["completion"].splitlines()[0] for e in examples}
    assert any("print" in line for line in first_lines) and len(FAMILIES) >= 8
    assert any(e["prompt"].startswith("// A function") for e in examples)
    assert any(e["prompt"].startswith("// Una función") for e in examples)


def test_instruction_example_format():
    example = make_example("print", ["hello", "world"], "en")
    assert example["prompt"] == '// A function that prints "Hello World"'
    assert (
        example["completion"]
        == 'public static void printHelloWorld() {\n    System.out.println("Hello World");\n}'
    )


@pytest.mark.parametrize(
    "config", ["configs/tiny/java_instruct.yaml", "configs/tiny/java_autoregressive.yaml"]
)
def test_tiny_java_configs_fit(config, tmp_path):
    cli = cli_main(
        [
            "fit",
            "--config",
            config,
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    metrics = cli.trainer.callback_metrics
    assert cli.trainer.state.finished and torch.isfinite(metrics["val/loss"])
    assert torch.isclose(metrics["val/ppl"], metrics["val/loss"].exp())
    if "instruct" in config:
        assert {"val/accuracy", "val_seen/accuracy", "val_phrasing/accuracy"} <= set(metrics)
        if shutil.which("javac"):
            assert {"val/compile_rate", "val/runs_right", "val_phrasing/runs_right"} <= set(metrics)


def test_a_checkpoint_brings_its_weights_but_the_command_chooses_how_to_decode(tmp_path):
    tiny = [
        "--config",
        "configs/tiny/java_instruct.yaml",
        "--trainer.enable_progress_bar",
        "false",
        "--data.init_args.compile_check",
        "false",
    ]
    cli_main(
        [
            "fit",
            *tiny,
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.max_steps",
            "2",
            "--model.init_args.num_beams",
            "3",
            "--model.init_args.max_new_tokens",
            "12",
        ]
    )
    ckpt = next(tmp_path.rglob("last.ckpt"))
    assert torch.load(ckpt, weights_only=True)["hyper_parameters"]["num_beams"] == 3
    greedy = cli_main(["test", *tiny, "--ckpt_path", str(ckpt), "--model.init_args.num_beams", "1"])
    assert (greedy.model.num_beams, greedy.model.max_new_tokens) == (1, 32)  # the command's, the config's
    assert greedy.trainer.state.finished and "test/accuracy" in greedy.trainer.callback_metrics
    beams = cli_main(
        [
            "test",
            *tiny,
            "--ckpt_path",
            str(ckpt),
            "--model.init_args.num_beams",
            "2",
            "--model.init_args.max_new_tokens",
            "8",
        ]
    )
    assert (beams.model.num_beams, beams.model.max_new_tokens) == (2, 8)


def test_two_stage_training_starts_from_the_corpus_checkpoint(tmp_path):
    stage1 = cli_main(
        [
            "fit",
            "--config",
            "configs/tiny/java_autoregressive.yaml",
            "--trainer.default_root_dir",
            str(tmp_path / "ar"),
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        ]
    )
    ckpt = next((tmp_path / "ar").rglob("*.ckpt"))
    stage2 = cli_main(
        [
            "fit",
            "--config",
            "configs/tiny/java_instruct.yaml",
            "--trainer.max_steps",
            "0",
            "--model.init_args.init_weights",
            str(ckpt),
            "--trainer.default_root_dir",
            str(tmp_path / "instruct"),
        ]
    )
    trained = stage1.model.model.state_dict()
    for key, value in stage2.model.model.state_dict().items():
        assert torch.equal(value, trained[key]), key
