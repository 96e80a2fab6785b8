"""What each Lightning strategy needs from the model, and what it cannot do, checked before loading."""

from __future__ import annotations

from torch import nn

from modules.errors import UserInputError

# Strategies that shard parameters: Lightning's (torch's FSDP1, GPUs only) and lit's FSDP2 (`lit.fsdp`),
# named here, not imported: the model layer never imports the command line.
FSDP_STRATEGIES = ("FSDPStrategy", "FSDP2Strategy")


def is_transformer_block(module: nn.Module) -> bool:
    """One FSDP unit per transformer block of any `AutoModelForCausalLM` (`...DecoderLayer` in
    Llama/Mistral/Qwen, `GPT2Block` in GPT-2), found by class name."""
    name = type(module).__name__
    return name.endswith("DecoderLayer") or name.endswith("Block")


def decoder_layer_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """The same units as an `auto_wrap_policy` for Lightning's `FSDPStrategy` (FSDP1, GPUs)."""
    return True if recurse else is_transformer_block(module)


def strategy_name(strategy) -> str:
    return type(strategy).__name__ if strategy is not None else "none"


def check_quantization_support(strategy, quantized: bool, quant_storage: str) -> None:
    """Refuse, before any weights load, combinations of a strategy and 4-bit weights that cannot work."""
    if not quantized or strategy is None:
        return
    name = strategy_name(strategy)
    if (
        name == "DeepSpeedStrategy"
        and getattr(strategy, "config", {}).get("zero_optimization", {}).get("stage") == 3
    ):
        raise UserInputError(
            "4-bit quantization is not supported with DeepSpeed ZeRO stage 3: it partitions parameters, "
            "which bitsandbytes 4-bit weights cannot be. Use stage 2 (configs/strategies/deepspeed.yaml) "
            "or FSDP (configs/strategies/fsdp.yaml)."
        )
    if name in FSDP_STRATEGIES and quant_storage == "uint8":
        raise UserInputError(
            "4-bit weights under FSDP must be stored in the dtype of the other parameters so FSDP can "
            "flatten them: set quantization.quant_storage to auto (or bfloat16), not uint8."
        )


def quant_storage_dtype(strategy, quant_storage: str, compute_dtype) -> str | None:
    """bitsandbytes' storage dtype for packed 4-bit weights: uint8, except under FSDP (the compute dtype)."""
    import torch

    if quant_storage != "auto":
        return getattr(torch, quant_storage)
    if strategy_name(strategy) in FSDP_STRATEGIES:
        return compute_dtype
    return torch.uint8
