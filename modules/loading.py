"""Loading a causal LM for training: the base weights (4-bit or dense, in the dtype the precision asks
for, on the process's own device), gradient checkpointing, a starting checkpoint, LoRA."""

from __future__ import annotations

from typing import Any

import torch

from modules.adapter_checkpoint import load_adapter, read_init_weights
from modules.cpu_4bit import import_bitsandbytes
from modules.hardware import resolve_dtype
from modules.lora_dropout import use_fast_dropout
from modules.model_source import ModelSourceError, describe_load_failure, resolve_model_source
from modules.peft_config import LoraArgs, QuantArgs, apply_lora, bnb_config
from modules.strategies import check_quantization_support


def accelerator_of(device: torch.device | None) -> str | None:
    """ "cuda" or "cpu" for the Trainer's root device, None without a Trainer (the loading defaults)."""
    return None if device is None else ("cuda" if device.type == "cuda" else "cpu")


def load_causal_lm(
    source: str,
    *,
    quantization: QuantArgs | None,
    lora: LoraArgs | None,
    dtype_name: str,
    trust_remote_code: bool,
    attn_implementation: str | None,
    gradient_checkpointing: bool,
    fast_dropout: bool,
    init_weights: str | None,
    strategy=None,
    accelerator: str | None = None,
    precision: str | None = None,
    device: torch.device | None = None,
):
    """The model `CausalLM` trains (in eval mode, as `from_pretrained` returns it).

    `strategy`, `accelerator`, `precision` and `device` are the Trainer's (None without one): they decide
    the dtype, the 4-bit settings and where a 4-bit base loads.
    """
    # Before transformers or peft do (both import it where installed): no hub lookup of a CPU kernel lit
    # does not use, and no message about it, 4-bit or not (`modules.cpu_4bit`).
    import_bitsandbytes()
    from transformers import AutoModelForCausalLM

    if quantization is not None:  # unsupported strategy + 4-bit combinations fail before loading
        check_quantization_support(strategy, True, quantization.quant_storage)
    # Read before the expensive load, so a bad path fails fast.
    init = init_weights and read_init_weights(init_weights, quantized=quantization is not None)
    path = resolve_model_source(source)
    dtype = resolve_dtype(dtype_name, accelerator, precision)
    if dtype_name == "auto" and lora is None:
        dtype = torch.float32  # weights that train keep fp32 master copies; mixed precision does the rest
    kwargs: dict[str, Any] = dict(
        dtype=dtype, trust_remote_code=trust_remote_code, attn_implementation=attn_implementation
    )
    if quantization is not None:
        kwargs["quantization_config"] = bnb_config(quantization, accelerator, strategy, precision)
        # Each process loads the 4-bit base onto its own device, never "auto" across devices.
        kwargs["device_map"] = {"": device or torch.device("cpu")}
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as error:
        raise ModelSourceError(describe_load_failure(source, error)) from error

    if quantization is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if init is not None and not init["adapter_only"]:
        model.load_state_dict(init["state_dict"])
    if lora is not None:
        model = apply_lora(model, lora)
        if fast_dropout:
            use_fast_dropout(model)
    if init is not None and init["adapter_only"]:
        load_adapter(model, init["state_dict"], init_weights)
    return model
