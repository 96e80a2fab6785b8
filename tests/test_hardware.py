"""`auto` precision per CPU class, and the switch that picks the class (`LIT_NATIVE_BF16`)."""

import pytest
import torch

from lit.cli import cli_main
from modules.errors import UserInputError
from modules.hardware import cpu_description, cpu_has_native_bf16, resolve_dtype, resolve_precision

pytestmark = pytest.mark.cpu_class


@pytest.mark.parametrize(
    "switch, precision, dtype", [("1", "bf16-mixed", torch.bfloat16), ("0", "32-true", torch.float32)]
)
def test_the_switch_makes_auto_resolve_as_on_either_cpu_class(monkeypatch, switch, precision, dtype):
    monkeypatch.setenv("LIT_NATIVE_BF16", switch)
    assert cpu_has_native_bf16() is (switch == "1")
    assert resolve_precision("auto", "cpu") == precision
    assert resolve_dtype("auto", "cpu") == dtype
    assert resolve_precision("32-true", "cpu") == "32-true"  # a named precision is never overridden
    assert f"LIT_NATIVE_BF16={switch}" in cpu_description()  # a figure says the class was forced


def test_a_figure_names_kernels_held_below_the_cpu(monkeypatch):
    """The AVX2 class simulated on a newer CPU (`ONEDNN_MAX_CPU_ISA=AVX2` and kin): the figure says so."""
    for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS"):
        monkeypatch.delenv(name, raising=False)
    assert "ONEDNN_MAX_CPU_ISA" not in cpu_description()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert "(ONEDNN_MAX_CPU_ISA=AVX2)" in cpu_description()


def test_unset_the_cpu_flags_decide(monkeypatch):
    from modules.hardware import cpu_flags_have_native_bf16

    monkeypatch.delenv("LIT_NATIVE_BF16")
    assert cpu_has_native_bf16() is cpu_flags_have_native_bf16()
    assert "LIT_NATIVE_BF16" not in cpu_description()


def test_a_bad_switch_value_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("LIT_NATIVE_BF16", "yes")
    with pytest.raises(UserInputError, match="LIT_NATIVE_BF16='yes': use 1 .* 0 .* unset"):
        resolve_precision("auto", "cpu")


def test_a_tiny_fit_with_auto_precision_trains_in_what_the_cpu_class_resolves(tiny_fit_args):
    """The whole path under `auto`, in whichever class the environment names (the default suite: 0; CI again
    with 1): the Trainer's precision, the frozen weights and the 4-bit compute dtype follow it."""
    native = cpu_has_native_bf16()
    cli = cli_main(tiny_fit_args + ["--config", "configs/debug.yaml"])
    assert cli.trainer.precision == ("bf16-mixed" if native else "32-true")
    dtype = torch.bfloat16 if native else torch.float32
    assert {m.compute_dtype for m in cli.model.linear_4bit} == {dtype}
    assert cli.trainer.global_step == 1
