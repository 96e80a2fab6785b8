"""What each Lightning strategy needs from the model, and what it cannot do, checked before loading."""

from __future__ import annotations

from typing import Optional

from torch import nn

from modules.errors import UserInputError


def decoder_layer_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """FSDP auto-wrap policy for any `AutoModelForCausalLM`: one FSDP unit per transformer block
    (`...DecoderLayer` in Llama/Mistral/Qwen, `GPT2Block` in GPT-2), found by class name."""
    if recurse:
        return True
    name = type(module).__name__
    return name.endswith("DecoderLayer") or name.endswith("Block")


def strategy_name(strategy) -> str:
    return type(strategy).__name__ if strategy is not None else "none"


def check_quantization_support(strategy, quantized: bool, quant_storage: str) -> None:
    """Refuse, before any weights load, combinations of a strategy and 4-bit weights that cannot work."""
    if not quantized or strategy is None:
        return
    name = strategy_name(strategy)
    if name == "DeepSpeedStrategy" and getattr(strategy, "config", {}).get("zero_optimization", {}).get("stage") == 3:
        raise UserInputError(
            "4-bit quantization is not supported with DeepSpeed ZeRO stage 3: it partitions parameters, "
            "which bitsandbytes 4-bit weights cannot be. Use stage 2 (configs/strategies/deepspeed.yaml) "
            "or FSDP (configs/strategies/fsdp.yaml)."
        )
    if name == "FSDPStrategy" and quant_storage == "uint8":
        raise UserInputError(
            "4-bit weights under FSDP must be stored in the dtype of the other parameters so FSDP can "
            "flatten them: set quantization.quant_storage to auto (or bfloat16), not uint8."
        )


def quant_storage_dtype(strategy, quant_storage: str, compute_dtype) -> Optional[str]:
    """bitsandbytes' storage dtype for packed 4-bit weights: uint8, except under FSDP (the compute dtype)."""
    import torch

    if quant_storage != "auto":
        return getattr(torch, quant_storage)
    if strategy_name(strategy) == "FSDPStrategy":
        return compute_dtype
    return torch.uint8
