"""Adapter-only checkpoints: starting a run from one (`init_weights`) and checking one fits the model."""

from __future__ import annotations

from pathlib import Path

import torch

from modules.errors import UserInputError


def read_init_weights(path: str, quantized: bool) -> dict:
    """The checkpoint's weights, keyed as the wrapped model's own, and whether it holds only an adapter."""
    if not Path(path).expanduser().is_file():  # e.g. a later stage run before the stage that writes it
        raise UserInputError(
            f"init_weights {path!r} not found: train the run that writes it first (a config that starts "
            "from a checkpoint names the command at its top)"
        )
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    adapter_only = bool(checkpoint.get("adapter_only"))
    if not adapter_only and quantized:
        raise UserInputError(
            f"init_weights {path!r} holds full weights; they cannot load into a 4-bit base "
            "(set quantization: null, or start from an adapter-only checkpoint)"
        )
    # LightningModule keys start with "model."; the wrapped model's own keys do not.
    state = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()}
    return {"adapter_only": adapter_only, "state_dict": state}


def adapter_mismatch(own: dict, trainable: set[str], state: dict) -> tuple[list[str], list[str]]:
    """(adapter weights missing from `state`, keys of `state` the model does not have)."""
    return sorted(trainable - set(state)), [k for k in state if k not in own]


def load_adapter(model: torch.nn.Module, state: dict, path: str) -> None:
    """Load an adapter-only state into `model`, refusing one saved with other LoRA settings."""
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    missing, unexpected = adapter_mismatch(model.state_dict(), trainable, state)
    if missing or unexpected:
        raise UserInputError(f"init_weights {path!r}: its adapter does not match these LoRA settings")
    model.load_state_dict(state, strict=False)


def require_adapter_match(missing: list[str], unexpected: list[str]) -> None:
    """A resume must never continue silently with a freshly initialised adapter."""
    if missing or unexpected:
        raise RuntimeError(
            f"Checkpoint does not match this model's LoRA adapter: {len(missing)} adapter weight(s) "
            f"missing (e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}). "
            "Was it saved with the same model and LoRA settings?"
        )


def describe_run(checkpoint: dict, datamodule) -> None:
    """Record the run's data module in `checkpoint`, so `lit export` can check itself on the run's held-out
    prompts and `lit data preferences` can ask its task."""
    kind = type(datamodule)
    checkpoint["lit_datamodule"] = {
        "class_path": f"{kind.__module__}.{kind.__qualname__}",
        "init_args": dict(datamodule.hparams),
    }


def keep_adapter_only(checkpoint: dict, trainable: set[str]) -> None:
    """The base weights are the hub's (or the embedded model's): a LoRA checkpoint holds the adapter only."""
    checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trainable}
    checkpoint["adapter_only"] = True
