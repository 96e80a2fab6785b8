"""The other CPU class on any CPU: bitsandbytes as it behaves where AVX512-BF16 is native.

There every `Linear4bit` is built with `support_avx512bf16_for_cpu = has_avx512bf16()` true, and its forward
in eval mode without grad packs the weight in place (`_convert_weight_packed_for_cpu`, plain torch) for the
inference kernel `gemv_4bit`, which has no autograd (modules/cpu_4bit.py). Simulated here on any CPU:
`has_avx512bf16` answers true, so the layers pack exactly as there, and `gemv_4bit` on a packed weight is a
plain-torch stand-in for the kernel, as gradient-free as it is (a backward that passes nothing to the input),
so the kernel itself never runs. On a CPU with AVX512-BF16 the simulation changes nothing but the kernel.
"""

from __future__ import annotations

import copy

import torch
from lightning.pytorch.callbacks import Callback


class _NoGradient(torch.autograd.Function):
    """`x @ weight.T` whose backward passes no gradient to `x`: what torch's fallback does for an op with no
    autograd kernel (it warns, then leaves the input's gradient None)."""

    @staticmethod
    def forward(ctx, x, weight):
        return torch.nn.functional.linear(x, weight)

    @staticmethod
    def backward(ctx, grad):
        return None, None


def simulate_native_bf16_bitsandbytes(monkeypatch) -> None:
    """From here on (until `monkeypatch` undoes it), new 4-bit layers pack on eval as on a native-bf16 CPU."""
    from modules.cpu_4bit import import_bitsandbytes, unpack

    import_bitsandbytes()
    import bitsandbytes.functional as F
    import bitsandbytes.nn.modules as bnb_modules

    gemv_4bit = F.gemv_4bit

    def packed_gemv_4bit(A, B, out=None, transposed_A=False, transposed_B=False, state=None):
        if not getattr(state, "packing_format_for_cpu", False):
            return gemv_4bit(A, B, out=out, transposed_A=transposed_A, transposed_B=transposed_B, state=state)
        weight, unpacked = unpack(B.clone(), copy.deepcopy(state))
        dense = F.dequantize_4bit(weight, unpacked).to(A.dtype)
        return _NoGradient.apply(A, dense)

    monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: True)
    monkeypatch.setattr(F, "gemv_4bit", packed_gemv_4bit)


def packed_layers(module) -> int:
    """How many of a CausalLM's 4-bit layers are in bitsandbytes' CPU inference layout now."""
    from modules.cpu_4bit import is_packed, linear_4bit_layers

    return sum(is_packed(layer) for layer in linear_4bit_layers(module))


class PackedLayersAtTrainingSteps(Callback):
    """Records, at the start of every training step (before the module's own hook), how many 4-bit layers
    are packed, and prints a line at the end of fit:

        python -m lit fit --config configs/tiny/sums.yaml --trainer.max_steps 12 \\
            --trainer.val_check_interval 4 \\
            --trainer.callbacks+ tests.helpers.native_bf16.PackedLayersAtTrainingSteps
    """

    def __init__(self):
        self.seen: dict[int, int] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen[trainer.global_step] = packed_layers(pl_module)

    def on_fit_end(self, trainer, pl_module):
        from modules.cpu_4bit import linear_4bit_layers

        layers = len(linear_4bit_layers(pl_module))
        met = {step: n for step, n in self.seen.items() if n}
        print(
            f"lit: {len(self.seen)} training steps, {layers} 4-bit layers; "
            f"steps that met a packed layer: {met or 'none'}"
        )
