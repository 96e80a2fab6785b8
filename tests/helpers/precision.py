"""Both precisions in the numerics tests, forced whatever the CPU: fp32, and bf16 as mixed precision
(bf16 compute, fp32 trained weights and loss), as `--trainer.precision` gives them.

Tolerances follow the dtype, never one CPU's rounding: bf16 keeps 8 significant bits, so two
computations that round in a different order agree to a few units of 2**-8 relative to the values'
size; fp32 to about 1e-5.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ["32-true", "bf16-mixed"]
BF16_EPS = 2.0**-8  # bf16's relative rounding step (8 significant bits)


def module_kwargs(precision: str) -> dict:
    """CausalLM arguments that pin the dense weights' dtype to the precision (no hardware `auto`)."""
    return {"dtype": "bfloat16" if precision == "bf16-mixed" else "float32"}


def quant_kwargs(precision: str) -> dict:
    """QuantArgs arguments that pin the 4-bit compute dtype to the precision."""
    return {"compute_dtype": "bfloat16" if precision == "bf16-mixed" else "float32"}


def autocast(precision: str):
    """The computation Lightning's precision plugin wraps a step in."""
    if precision == "bf16-mixed":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def close(precision: str, scale: float = 1.0) -> dict:
    """`torch.testing.assert_close` tolerances for values of magnitude about `scale`."""
    if precision == "bf16-mixed":
        return {"rtol": 4 * BF16_EPS, "atol": 4 * BF16_EPS * scale}
    return {"rtol": 1.3e-6, "atol": 1e-5 * scale}


@torch.no_grad()
def greedy_choice_margins(
    model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, new: torch.Tensor, eos: int
) -> torch.Tensor:
    """For tokens another computation generated greedily: how far below `model`'s own best logit each
    chosen token's logit is (0 where `model` picks the same), at every position up to each row's EOS.

    Two computations that round differently pick the same tokens except at near-ties; in bf16 such
    ties are common on a random tiny model, so greedy outputs are compared by this margin instead.
    """
    ids = torch.cat([prompt_ids, new], 1)
    mask = torch.cat([prompt_mask, torch.ones_like(new)], 1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float()
    logits = logits[:, prompt_ids.shape[1] - 1 : -1]
    margins = logits.max(-1).values - logits.gather(-1, new[..., None])[..., 0]
    after_eos = (new == eos).int().cumsum(1) - (new == eos).int() > 0
    return margins.masked_fill(after_eos, 0.0)


def random_adapter_module(path: str, precision: str, std: float = 0.2):
    """A tiny model in eval mode with a random LoRA adapter (r=4, no dropout) on every linear layer:
    large enough that rows of a batch generate different tokens, weights pinned to `precision`."""
    from modules.causal_lm import CausalLM
    from modules.peft_config import LoraArgs

    module = CausalLM(
        model=path,
        lora=LoraArgs(r=4, alpha=8, dropout=0.0, target_modules="all-linear"),
        **module_kwargs(precision),
    )
    module.configure_model()
    module.model.eval()
    for p in module.parameters():  # LoRA B starts at zero: make the adapter matter
        if p.requires_grad:
            torch.nn.init.normal_(p, std=std)
    return module
