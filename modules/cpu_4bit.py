"""bitsandbytes' 4-bit layers on CPU: one weight layout, the one with a gradient, for training and evaluation.

On a CPU with AVX512-BF16, bitsandbytes 0.50's `Linear4bit.forward`, in eval mode and without grad, converts
its weight *in place* to a packed layout for an inference kernel (`gemv_4bit`) that has no autograd. Nothing
converts it back when training resumes, so every training step after an evaluation (the sanity check, each
validation in fit, `validate_before_fit`) got no gradient through the frozen 4-bit weights, only through LoRA
(docs/results.md: what that did to the main job). The conversion back is not exact either
(the absmax constants are rounded to bf16 and quantized again), and the packed kernel computes in bf16
whatever the compute dtype, so an fp32 run would evaluate in bf16.

lit therefore turns the packing off on every 4-bit layer it loads (`keep_trainable_layout`): training,
validation, test and predict all run the one layout, with the same numbers on every CPU. The contract is
guarded once, at the start of every training step (`CausalLM.on_train_batch_start` ->
`restore_trainable_layout`), whatever packed a layer: tests/test_cpu_4bit.py checks that the gradients after
a validation equal those of a model never evaluated, with the other CPU class simulated on any CPU.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from lightning.pytorch.utilities import rank_zero_warn
from torch import nn

# What bitsandbytes logs at import on a CPU with AVX512-BF16 when it cannot fetch the hub kernel for the
# packed layout: lit never runs that kernel, and runs without network.
_HUB_KERNEL_MESSAGE = "Failed to load CPU gemm_4bit_forward from kernels-community"


class _DropHubKernelMessage(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_HUB_KERNEL_MESSAGE)


@contextlib.contextmanager
def _no_hub_kernels():
    """While bitsandbytes imports: `from kernels import get_kernel` fails at once (no hub lookup, which
    needs the network) and the message about it is dropped."""
    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    message_filter = _DropHubKernelMessage()
    logger.addFilter(message_filter)
    missing = object()
    saved = sys.modules.get("kernels", missing)
    sys.modules["kernels"] = None  # an import of it raises ImportError
    try:
        yield
    finally:
        if saved is missing:
            del sys.modules["kernels"]
        else:
            sys.modules["kernels"] = saved
        logger.removeFilter(message_filter)


def import_bitsandbytes():
    """`import bitsandbytes`, without its hub lookup of a CPU kernel lit does not use (and its warning); None
    where it is not installed (a dense model needs none)."""
    if "bitsandbytes" not in sys.modules:
        with _no_hub_kernels():
            try:
                import bitsandbytes  # noqa: F401
            except ImportError:
                return None
    return sys.modules["bitsandbytes"]


def linear_4bit_layers(model: nn.Module) -> list[nn.Module]:
    """Every bitsandbytes 4-bit linear layer of `model` (none when it is dense)."""
    if "bitsandbytes" not in sys.modules:  # nothing can be 4-bit before bitsandbytes is imported
        return []
    bnb = sys.modules["bitsandbytes"]
    return [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]


def is_packed(layer: nn.Module) -> bool:
    """Whether the layer's weight is in bitsandbytes' CPU inference layout (no autograd)."""
    return bool(getattr(getattr(layer.weight, "quant_state", None), "packing_format_for_cpu", False))


def keep_trainable_layout(layers: list[nn.Module]) -> None:
    """Turn off bitsandbytes' in-place packing for its CPU inference kernel on `layers`, and unpack any
    already packed: from here on they compute as on any other CPU."""
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
    restore_trainable_layout(layers)


def unpack(data, quant_state):
    """A packed weight's (data, quant_state) in the layout with a gradient: bitsandbytes' inverse, with the
    absmax constants rounded to bf16 (the packing kept no more), so within bf16's rounding of the original."""
    from bitsandbytes.functional import _convert_weight_packed_for_cpu_inverse

    data, state = _convert_weight_packed_for_cpu_inverse(data, quant_state)
    if state.absmax.dim() == 2:  # bitsandbytes 0.50 restores absmax only when double-quantized; else it
        state.absmax = state.absmax.T.reshape(-1).float()  # stays transposed, [blocks per row, rows]
    return data, state


def restore_trainable_layout(layers: list[nn.Module]) -> int:
    """Convert packed layers back to the layout with a gradient (`unpack`); the number converted (0 unless
    something other than lit's own evaluation packed them)."""
    packed = [layer for layer in layers if is_packed(layer)]
    for layer in packed:
        layer.support_avx512bf16_for_cpu = False
        layer.weight.data, layer.weight.quant_state = unpack(layer.weight.data, layer.weight.quant_state)
    if packed:
        rank_zero_warn(
            f"lit: {len(packed)} 4-bit layer(s) were in bitsandbytes' CPU inference layout (no gradient) "
            "at a training step; converted back. Something outside lit packed them (modules/cpu_4bit.py)."
        )
    return len(packed)
