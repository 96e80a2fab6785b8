"""The GPU suite, `python -m pytest -m gpu` (`python -m bench.gpu_suite` runs it and writes JSON).

Sized for one GPU in under 8 minutes: tiny models, an epoch or a few steps each; the strategies run with two
processes where two GPUs are present, else with one. DDP, FSDP with QLoRA (4-bit weights stored in the compute
dtype), DeepSpeed ZeRO-2, bf16 autocast, and the reference Mistral recipe on a tiny Mistral.
"""

import json

import pytest
import torch

from lit.cli import cli_main
from tests.helpers import TINY_MISTRAL, strategy_runs
from tests.helpers.processes import csv_logger, last_metrics, run_command, run_lit
from tests.helpers.tiny_runs import MODES

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
pytestmark = [pytest.mark.gpu, needs_cuda]

DEVICES = str(max(1, min(2, torch.cuda.device_count())))
GPUS = ["--trainer.accelerator", "gpu", "--trainer.devices", DEVICES]
ONE_GPU = ["--trainer.accelerator", "gpu", "--trainer.devices", "1"]
TINY = [
    "--config",
    "configs/tiny/sums.yaml",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
]
METRICS = ("val/loss", "val/mae", "val/exact", "val/parse_rate", "val/hit_limit")


def bf16() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def metrics_of(cli) -> dict:
    return {k: float(v) for k, v in cli.trainer.callback_metrics.items()}


def test_ddp_qlora_on_gpus_scores_like_one_gpu_and_its_checkpoint_loads(tmp_path):
    ddp = ["--config", "configs/strategies/ddp.yaml", *GPUS, "--trainer.precision", "32-true"]
    run_lit(
        [
            "fit",
            *TINY,
            *ddp,
            "--trainer.max_epochs",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path / "fit"),
            *csv_logger(tmp_path / "fit"),
        ]
    )
    ckpt = tmp_path / "fit" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    one = cli_main(
        [
            "validate",
            *TINY,
            *ONE_GPU,
            "--trainer.precision",
            "32-true",
            "--ckpt_path",
            str(ckpt),
            *csv_logger(tmp_path / "one"),
        ]
    )
    run_lit(["validate", *TINY, *ddp, "--ckpt_path", str(ckpt), *csv_logger(tmp_path / "ddp")])
    ddp_metrics, one_metrics = last_metrics(tmp_path / "ddp"), metrics_of(one)
    for key in METRICS:
        assert ddp_metrics[key] == pytest.approx(one_metrics[key], rel=1e-3, abs=1e-4), key


@pytest.mark.skipif(not bf16(), reason="needs a GPU with bf16")
def test_fsdp_qlora_on_gpus_stores_4bit_weights_in_bf16_that_gather_exactly_and_score_like_one_gpu(tmp_path):
    """bitsandbytes issue 1945: FSDP2 can canonicalise NaN bit patterns of packed 4-bit codes in bf16 storage;
    this checks every packed weight, gathered, byte for byte against a one-process quantization."""
    precision = ["--trainer.precision", "bf16-mixed"]
    run_command(
        ["tests/helpers/strategy_runs.py", str(tmp_path), "fsdp", "4bit+lora", "--", *GPUS, *precision]
    )
    run = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["4bit+lora"]
    assert run["sharding"]["packed_4bit"] == {"checked": 14, "equal": 14, "dtype": "torch.bfloat16"}
    assert run["resumed_steps"] == 2 * run["fit_steps"]
    one = cli_main(
        [
            "validate",
            *strategy_runs.TINY,
            *MODES["4bit+lora"],
            *ONE_GPU,
            *precision,
            "--ckpt_path",
            run["ckpt"],
        ]
    )
    for key in METRICS:  # bf16 compute: batches of other rows round differently
        assert run["validate"][key] == pytest.approx(metrics_of(one)[key], rel=2e-2, abs=1e-2), key


def test_deepspeed_zero2_qlora_on_gpus_scores_like_one_gpu_and_resumes(tmp_path):
    pytest.importorskip("deepspeed")
    precision = ["--trainer.precision", "bf16-mixed" if bf16() else "32-true"]
    run_command(
        ["tests/helpers/strategy_runs.py", str(tmp_path), "deepspeed", "4bit+lora", "--", *GPUS, *precision]
    )
    run = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["4bit+lora"]
    assert run["resumed_from"].endswith("last.ckpt") and run["resumed_steps"] == 2 * run["fit_steps"]
    one = cli_main(
        [
            "validate",
            *strategy_runs.TINY,
            *MODES["4bit+lora"],
            *ONE_GPU,
            *precision,
            "--ckpt_path",
            run["ckpt"],
        ]
    )  # the folder converted to one file
    assert set(torch.load(run["ckpt"], weights_only=True)["state_dict"]) == one.model._trainable_keys()
    for key in METRICS:
        assert run["validate"][key] == pytest.approx(metrics_of(one)[key], rel=2e-2, abs=1e-2), key


@pytest.mark.skipif(not bf16(), reason="needs a GPU with bf16")
def test_bf16_autocast_on_a_gpu_computes_in_bf16_and_trains_like_fp32(tmp_path):
    losses, modules = {}, {}
    for precision in ("32-true", "auto"):  # auto: bf16-mixed on a GPU with bf16
        cli = cli_main(
            [
                "fit",
                *TINY,
                *ONE_GPU,
                "--trainer.precision",
                precision,
                "--trainer.max_steps",
                "3",
                "--trainer.log_every_n_steps",
                "1",
                "--trainer.limit_val_batches",
                "0",
                "--trainer.default_root_dir",
                str(tmp_path / precision),
                *csv_logger(tmp_path / precision),
            ]
        )
        losses[precision] = last_metrics(tmp_path / precision)["train/loss"]
        modules[precision] = cli
    assert modules["auto"].trainer.precision == "bf16-mixed"
    model = modules["auto"].model.model.get_base_model()
    k_proj = model.model.layers[0].self_attn.k_proj
    assert k_proj.base_layer.compute_dtype == torch.bfloat16  # 4-bit matmuls in bf16
    assert k_proj.lora_A["default"].weight.dtype == torch.float32  # trained weights keep fp32 master copies
    # The same three batches from the same start: the last loss within bf16's rounding of fp32's.
    assert losses["auto"] == pytest.approx(losses["32-true"], rel=2e-2)


def test_the_mistral_recipe_runs_on_a_gpu_with_its_shapes_on_a_tiny_mistral(tmp_path):
    from bitsandbytes.nn import Linear4bit

    from modules.peft_config import count_trainable

    cli = cli_main(
        [
            "fit",
            "--config",
            "configs/mistral_sums.yaml",
            "--model.init_args.model",
            TINY_MISTRAL,
            "--trainer.max_epochs",
            "1",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--data.init_args.num_examples",
            "8",
            "--data.init_args.num_val_examples",
            "4",
            "--data.init_args.eval_batch_size",
            "4",
        ]
    )
    model = cli.model.model
    # The recipe's LoRA (r=8 on k, v, o) on the tiny shapes (2 layers, hidden 64, k/v out 2 heads x 16):
    # the 7B test's formula with these numbers (tests/test_configs.py).
    assert count_trainable(model) == 2 * (2 * 8 * (64 + 32) + 8 * (64 + 64)) == 5120
    layers = [m for m in model.modules() if isinstance(m, Linear4bit)]
    assert len(layers) == 14 and all(m.weight.device.type == "cuda" for m in layers)
    assert {m.weight.quant_type for m in layers} == {"nf4"}
    assert all(m.weight.compress_statistics for m in layers)  # double quantization
    assert model.get_base_model().is_gradient_checkpointing  # the recipe's, so 7B fits a 16 GB GPU
    assert cli.trainer.global_step == 4 and "val/mae" in cli.trainer.callback_metrics  # batch 2, 8 examples
