"""Training never runs through bitsandbytes' CPU inference layout, on either CPU class.

The native-bf16 CPU class is simulated on any CPU (tests/helpers/native_bf16.py): its 4-bit layers pack their
weights in place on an eval forward, into a layout without autograd. Checked with the fix reverted
(modules/causal_lm.py as at 98a4026), on an AMD EPYC with AVX512-BF16: the 4bit+lora cases of the gradient
test fail in both precisions (layer 0's k_proj LoRA B: 256 of 256 gradient elements differ in fp32, 239 of
256 in bf16, some by 100%), and so do the two tests of the guard; the other modes pass either way.
"""

import logging
import subprocess
import sys

import pytest
import torch

from lit.cli import cli_main
from modules.cpu_4bit import (
    _no_hub_kernels,
    import_bitsandbytes,
    keep_trainable_layout,
    restore_trainable_layout,
)
from tests.helpers import ROOT, TINY_MISTRAL
from tests.helpers.native_bf16 import (
    PackedLayersAtTrainingSteps,
    packed_layers,
    simulate_native_bf16_bitsandbytes,
)
from tests.helpers.precision import PRECISIONS, close, quant_kwargs
from tests.helpers.tiny_runs import MODES


def linear_4bit(compute_dtype: torch.dtype):
    bnb = import_bitsandbytes()
    torch.manual_seed(0)
    layer = bnb.nn.Linear4bit(64, 64, bias=False, compute_dtype=compute_dtype, quant_type="nf4")
    layer.weight = bnb.nn.Params4bit(torch.randn(64, 64), requires_grad=False, quant_type="nf4")
    return layer.to("cpu")  # quantizes


def input_grad(layer, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    layer(x).float().sum().backward()
    return x.grad


def evaluate(layer, x: torch.Tensor) -> None:
    layer.eval()
    with torch.no_grad():
        layer(x)
    layer.train()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_simulated_cpu_class_loses_the_gradient_and_lit_keeps_it(monkeypatch, dtype):
    """The smallest reproduction, in the simulation: an eval forward leaves the layer without a gradient
    to its input; with `keep_trainable_layout` the gradient is the never-evaluated layer's, bit for bit."""
    simulate_native_bf16_bitsandbytes(monkeypatch)
    x = torch.randn(2, 64, dtype=dtype)

    layer = linear_4bit(dtype)
    expected = input_grad(layer, x)
    evaluate(layer, x)
    assert packed_layers(layer) == 1
    assert input_grad(layer, x) is None  # bitsandbytes as it is on that CPU

    layer = linear_4bit(dtype)
    keep_trainable_layout([layer])
    evaluate(layer, x)
    assert packed_layers(layer) == 0
    torch.testing.assert_close(input_grad(layer, x), expected, rtol=0, atol=0)


def first_step_gradients(args: list[str]) -> dict[str, torch.Tensor]:
    """The trained weights' gradients at the first optimizer step of a fit built from `args`."""
    from lightning.pytorch.callbacks import Callback

    grads = {}

    class Record(Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            if not grads:
                for name, p in pl_module.named_parameters():
                    if p.requires_grad:
                        grads[name] = p.grad.detach().float().clone() if p.grad is not None else None

    cli = cli_main(args, run=False)
    cli.trainer.callbacks.append(Record())
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return grads


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("precision", PRECISIONS)
def test_the_first_training_step_after_a_validation_has_the_gradients_of_a_model_never_evaluated(
    monkeypatch, tmp_path, one_thread, precision, mode
):
    """Whatever a library switches in eval mode or without grad (bitsandbytes' packing on the simulated
    native-bf16 CPU, a kernel, a cache), the sanity check's validation leaves no trace in the next step."""
    simulate_native_bf16_bitsandbytes(monkeypatch)
    dtypes = quant_kwargs(precision)["compute_dtype"]
    args = [
        "--config",
        "configs/tiny/sums.yaml",
        *MODES[mode],
        "--trainer.precision",
        precision,
        "--model.init_args.dtype",
        dtypes,
        "--trainer.max_steps",
        "1",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
        "--trainer.enable_checkpointing",
        "false",
        "--trainer.callbacks",
        "null",
    ]
    if mode != "full":
        args += [
            "--model.init_args.lora.dropout",
            "0",
        ]  # the same step with and without the validation before it
    if mode == "4bit+lora":
        args += ["--model.init_args.quantization.compute_dtype", dtypes]
    evaluated = first_step_gradients(
        [
            *args,
            "--trainer.num_sanity_val_steps",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path / "evaluated"),
        ]
    )
    fresh = first_step_gradients(
        [*args, "--trainer.num_sanity_val_steps", "0", "--trainer.default_root_dir", str(tmp_path / "fresh")]
    )
    assert fresh.keys() == evaluated.keys() and all(g is not None for g in fresh.values())
    missing = [name for name, g in evaluated.items() if g is None]
    assert not missing, f"no gradient after the validation: {missing[:3]}"
    for name, grad in fresh.items():
        torch.testing.assert_close(
            evaluated[name],
            grad,
            **close(precision, grad.abs().max().item()),
            msg=lambda text, name=name: f"{name}: {text}",
        )


def test_a_layer_packed_outside_lit_is_converted_back_before_the_next_training_step(monkeypatch, tmp_path):
    """The guard at every training step: a 4-bit layer some other code packed trains with a gradient again,
    and lit says so."""
    simulate_native_bf16_bitsandbytes(monkeypatch)
    from bitsandbytes.functional import _convert_weight_packed_for_cpu
    from lightning.pytorch.callbacks import Callback

    class PackOne(Callback):  # what bitsandbytes' own eval forward would do, were lit not to turn it off
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            layer = pl_module.linear_4bit[0]
            layer.weight.data, layer.weight.quant_state = _convert_weight_packed_for_cpu(
                layer.weight.data, layer.weight.quant_state
            )

    watch = PackedLayersAtTrainingSteps()
    args = [
        "--config",
        "configs/tiny/sums.yaml",
        "--trainer.max_steps",
        "2",
        "--trainer.precision",
        "32-true",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.num_sanity_val_steps",
        "0",
        "--trainer.default_root_dir",
        str(tmp_path),
    ]
    cli = cli_main(args, run=False)
    cli.trainer.callbacks[:0] = [PackOne(), watch]
    with pytest.warns(UserWarning, match="1 4-bit layer"):
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert watch.seen == {0: 1, 1: 1}  # packed before the module's guard ran ...
    assert cli.model.repacked_layers == 2 and packed_layers(cli.model) == 0  # ... and trained unpacked


def test_no_training_step_of_the_tiny_config_meets_a_packed_layer(monkeypatch, tmp_path):
    """`lit fit` of the tiny config, simulated: 12 steps, a validation every 4, the sanity check before."""
    simulate_native_bf16_bitsandbytes(monkeypatch)
    watch = PackedLayersAtTrainingSteps()
    args = ["--config", "configs/tiny/sums.yaml", "--trainer.max_steps", "12", "--trainer.val_check_interval",
            "4", "--trainer.precision", "bf16-mixed", "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path)]  # fmt:skip
    cli = cli_main(args, run=False)
    cli.trainer.callbacks.insert(0, watch)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert len(cli.model.linear_4bit) == 14 and cli.trainer.global_step == 12
    assert watch.seen == {step: 0 for step in range(12)} and cli.model.repacked_layers == 0


def test_bitsandbytes_is_imported_without_a_hub_lookup_or_its_message(caplog):
    """bitsandbytes fetches a CPU kernel from the hub at import on a native-bf16 CPU; lit uses none and runs
    offline. In this process: the lookup fails at once and its message is dropped; in a fresh one, a lit
    start prints no such message (a real check only on a native-bf16 CPU, where bitsandbytes tries)."""
    with _no_hub_kernels(), caplog.at_level(logging.WARNING):
        with pytest.raises(ImportError):
            from kernels import get_kernel  # noqa: F401
        logging.getLogger("bitsandbytes.backends.cpu.ops").warning(
            "Failed to load CPU gemm_4bit_forward from kernels-community: %s", "no network"
        )
        logging.getLogger("bitsandbytes.backends.cpu.ops").warning("another message")
    assert [r.getMessage() for r in caplog.records] == ["another message"]
    code = (
        "from modules.causal_lm import CausalLM; from modules.peft_config import LoraArgs; "
        f"CausalLM(model={TINY_MISTRAL!r}, lora=LoraArgs()).configure_model()"
    )  # a dense start, peft imported
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "kernels-community" not in result.stderr + result.stdout


@pytest.mark.parametrize("double_quant", [True, False])
def test_a_packed_layer_converted_back_computes_as_before_within_bf16_rounding(double_quant):
    """bitsandbytes' own inverse leaves a single-quantized layer's absmax transposed (its weights then wrong,
    by up to half the largest weight); lit's conversion back restores it, absmax rounded to bf16 as the
    packing kept it."""
    from bitsandbytes.functional import _convert_weight_packed_for_cpu, dequantize_4bit

    bnb = import_bitsandbytes()
    torch.manual_seed(0)
    layer = bnb.nn.Linear4bit(
        128, 256, bias=False, compute_dtype=torch.float32, quant_type="nf4", compress_statistics=double_quant
    ).to("cpu")
    codes, before = layer.weight.data.clone(), dequantize_4bit(layer.weight.data, layer.weight.quant_state)
    layer.weight.data, layer.weight.quant_state = _convert_weight_packed_for_cpu(
        layer.weight.data, layer.weight.quant_state
    )
    assert restore_trainable_layout([layer]) == 1 and not layer.support_avx512bf16_for_cpu
    assert torch.equal(layer.weight.data, codes)
    after = dequantize_4bit(layer.weight.data, layer.weight.quant_state)
    torch.testing.assert_close(after, before, rtol=2**-8, atol=2**-8 * before.abs().max().item())


def test_restoring_the_layout_of_unpacked_layers_changes_nothing():
    layer = linear_4bit(torch.float32)
    before = layer.weight.data.clone()
    assert restore_trainable_layout([layer]) == 0
    assert torch.equal(layer.weight.data, before)
