"""LoRA merged into the base weights for the length of a generation, restored bit for bit after.

Decoding runs one token per step, so each adapted linear layer costs its base matmul plus the
adapter's two small ones, a dropout call, a scale and an add: on CPU most of a generation step's
matmul calls are the adapters'. Merged, a layer is one matmul again. peft's `merge_adapter` /
`unmerge_adapter` would add and then subtract the update in place, which leaves rounding errors
in the base weights after every validation; here the merged weight is a new tensor and the
original tensor object goes back afterwards, so training resumes on exactly the weights it had.
The price is one extra copy of the adapted weights while generating (none for 4-bit layers,
which are left as they are).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


def mergeable_layers(model: torch.nn.Module) -> list:
    """peft LoRA layers on plain dense `nn.Linear` weights with vanilla (not DoRA) adapters."""
    try:
        from peft.tuners.lora import Linear as LoraLinear
    except ImportError:  # pragma: no cover - peft is a dependency
        return []
    if any("FullyShardedDataParallel" in type(m).__name__ for m in model.modules()):
        return []  # sharded weights: not ours to swap
    layers = []
    for module in model.modules():
        if not isinstance(module, LoraLinear) or module.merged or module.disable_adapters:
            continue
        base = module.get_base_layer()
        weight = getattr(base, "weight", None)
        if type(base) is not torch.nn.Linear or type(weight) is not torch.nn.Parameter or module.fan_in_fan_out:
            continue  # 4-bit, DTensor, Conv1D-style or other layers stay as they are
        if any(name in module.lora_variant for name in module.active_adapters):
            continue  # DoRA and other variants are not a plain weight delta
        layers.append(module)
    return layers


@contextmanager
def merged_lora(model: torch.nn.Module, enabled: bool = True):
    """Within the block, adapted layers compute `x @ (W + scale * B @ A).T`, one matmul each."""
    layers = mergeable_layers(model) if enabled else []
    originals = []
    try:
        with torch.no_grad():
            for module in layers:
                base = module.get_base_layer()
                weight = base.weight
                merged = weight.detach().clone()
                for name in module.active_adapters:
                    if name in module.lora_A:
                        merged += module.get_delta_weight(name).to(merged.dtype)
                originals.append((module, base, weight))
                base._parameters["weight"] = torch.nn.Parameter(merged, requires_grad=False)
                module._disable_adapters = True  # the base layer alone now computes the merged map
        yield len(originals)
    finally:
        for module, base, weight in originals:
            base._parameters["weight"] = weight
            module._disable_adapters = False
