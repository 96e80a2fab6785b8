"""Pick numeric precision from the hardware at hand, never a hard-coded bf16.

On CPUs without native bf16 (AVX2-only), bf16 autocast or bf16 4-bit compute was measured
25x slower than fp32; on CPUs with AVX512-BF16/AMX, bf16 was ~2x faster. So `auto` means:
bf16 where the device computes it natively, fp32 elsewhere.

`LIT_NATIVE_BF16=1` makes a CPU count as one with native bf16 (`auto` -> bf16-mixed, as on AVX512-BF16/AMX),
`LIT_NATIVE_BF16=0` as one without (`auto` -> 32-true); unset, /proc/cpuinfo decides. For a run that should
resolve `auto` as on the other CPU class, and for the tests: the default suite sets 0, so no test depends on
the host, and CI runs the tests marked `cpu_class` again with 1.
"""

from __future__ import annotations

import functools
import os

import torch

from modules.errors import UserInputError

NATIVE_BF16_SWITCH = "LIT_NATIVE_BF16"
# What holds torch's, oneDNN's and MKL's kernels to an instruction set below the CPU's.
KERNEL_LIMITS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def cpu_has_native_bf16() -> bool:
    """True when `LIT_NATIVE_BF16` says 1, or, unset, when /proc/cpuinfo lists AVX512-BF16 or AMX-BF16."""
    switch = os.environ.get(NATIVE_BF16_SWITCH, "").strip()
    if switch in ("1", "0"):
        return switch == "1"
    if switch:
        raise UserInputError(
            f"{NATIVE_BF16_SWITCH}={switch!r}: use 1 (count this CPU as one with native bf16), "
            "0 (as one without), or leave it unset (/proc/cpuinfo decides)"
        )
    return cpu_flags_have_native_bf16()


@functools.cache
def cpu_flags_have_native_bf16() -> bool:
    """True when /proc/cpuinfo lists AVX512-BF16 or AMX-BF16."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_description() -> str:
    """What every reported figure should name: torch's CPU capability and native bf16 (the hardware's,
    whatever `LIT_NATIVE_BF16` says, which is named when it is set)."""
    capability = torch.backends.cpu.get_cpu_capability()
    # Kernels held to an older instruction set (the AVX2 class simulated on a newer CPU) are named with it.
    held = [f"{name}={os.environ[name]}" for name in KERNEL_LIMITS if os.environ.get(name)]
    capability = f"{capability} ({', '.join(held)})" if held else capability
    text = f"{capability}, native bf16: {'yes' if cpu_flags_have_native_bf16() else 'no'}"
    switch = os.environ.get(NATIVE_BF16_SWITCH)
    return f"{text}, {NATIVE_BF16_SWITCH}={switch}" if switch else text


def device_description(device: torch.device) -> str:
    """The device a figure was measured on: the GPU's name, or the CPU's capability."""
    if device.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(device)}"
    return f"CPU {cpu_description()}"


def bf16_is_fast(accelerator: str | None = None) -> bool:
    """Whether bf16 compute is native on the device training will run on."""
    use_cuda = accelerator in (None, "auto", "gpu", "cuda") and torch.cuda.is_available()
    if use_cuda:
        return torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()


def precision_dtype(precision) -> torch.dtype | None:
    """The compute dtype a Lightning precision names ("32-true" -> fp32, "bf16-mixed" -> bf16,
    "16-mixed" -> fp16); None for "auto" or one that names none (64)."""
    text = str(precision)
    if text.startswith("bf16"):
        return torch.bfloat16
    if text.startswith("16"):
        return torch.float16
    if text.startswith("32"):
        return torch.float32
    return None


def resolve_dtype(name: str, accelerator: str | None = None, precision=None) -> torch.dtype:
    """Map `auto`/`float32`/`bfloat16`/`float16` to a torch dtype.

    `auto` follows the Trainer's `precision` where one is given (one knob: `--trainer.precision
    32-true` is fp32 everywhere), else the hardware (bf16 where it is native).
    """
    if name == "auto":
        follows = precision_dtype(precision)
        if follows is not None:
            return follows
        return torch.bfloat16 if bf16_is_fast(accelerator) else torch.float32
    if name not in DTYPES:
        raise ValueError(f"Unknown dtype {name!r}; use one of: auto, {', '.join(DTYPES)}")
    return DTYPES[name]


def resolve_precision(precision, accelerator: str | None = None):
    """Lightning precision for `auto`: bf16-mixed where bf16 is native, else 32-true."""
    if precision != "auto":
        return precision
    return "bf16-mixed" if bf16_is_fast(accelerator) else "32-true"
