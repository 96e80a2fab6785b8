"""Our stable YAML keys for LoRA and 4-bit quantization, translated to peft and bitsandbytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from torch import nn

from modules.errors import UserInputError
from modules.hardware import resolve_dtype


@dataclass
class LoraArgs:
    """LoRA adapter settings.

    Args:
        r: rank of the update matrices.
        alpha: scaling numerator; the update is scaled by alpha / r.
        dropout: dropout on the adapter's input.
        target_modules: names of the linear layers to adapt (matched as the last part of a module
            name, as peft does), or "all-linear".
    """

    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: list[str] | str = field(default_factory=lambda: ["k_proj", "v_proj", "o_proj"])


@dataclass
class QuantArgs:
    """bitsandbytes 4-bit quantization of the base weights (QLoRA).

    Args:
        quant_type: "nf4" or "fp4".
        double_quant: also quantize the quantization constants.
        compute_dtype: dtype of the matmuls; "auto" follows the Trainer's precision (fp32 for "32-true",
            bf16 for "bf16-mixed"), and without a Trainer is bf16 where the device has it natively.
        quant_storage: dtype the packed 4-bit weights are stored in; "auto" is uint8, and the compute
            dtype under FSDP (which must flatten them with the other parameters).
    """

    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = True
    compute_dtype: str = "auto"
    quant_storage: str = "auto"


def bnb_config(args: QuantArgs, accelerator: str | None = None, strategy=None, precision=None):
    from transformers import BitsAndBytesConfig

    from modules.strategies import quant_storage_dtype

    compute_dtype = resolve_dtype(args.compute_dtype, accelerator, precision)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=args.quant_type,
        bnb_4bit_use_double_quant=args.double_quant,
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_quant_storage=quant_storage_dtype(strategy, args.quant_storage, compute_dtype),
    )


def linear_layer_names(model: nn.Module) -> list[str]:
    """The distinct last name parts of the model's linear layers (4-bit ones included)."""
    names = set()
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) or "Linear4bit" in type(module).__name__:
            names.add(name.rsplit(".", 1)[-1])
    return sorted(names)


def check_lora_targets(model: nn.Module, targets: list[str] | str) -> None:
    """Fail at start-up, naming the linear layers that exist, when a target matches none."""
    if isinstance(targets, str):
        if targets == "all-linear":
            return
        targets = [targets]
    available = linear_layer_names(model)
    missing = [t for t in targets if t not in available]
    if missing:
        raise UserInputError(
            f"LoRA target module(s) {missing} match no linear layer of this model. "
            f"Its linear layers are: {', '.join(available)}"
        )


def peft_lora_config(args: LoraArgs):
    """Our LoRA settings as peft's `LoraConfig` (the benchmarks give the same one to their baselines)."""
    from peft import LoraConfig

    return LoraConfig(
        r=args.r,
        lora_alpha=args.alpha,
        lora_dropout=args.dropout,
        target_modules=args.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )


def apply_lora(model: nn.Module, args: LoraArgs) -> nn.Module:
    """Wrap `model` with a fresh LoRA adapter; only the adapter is trainable afterwards."""
    from peft import get_peft_model

    check_lora_targets(model, args.target_modules)
    return get_peft_model(model, peft_lora_config(args))


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
