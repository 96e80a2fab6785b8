"""Preference tuning as a training objective: the policy's and the reference's log-probabilities of a
batch of (chosen, rejected) pairs, and the loss on them (`modules.preference_loss`).

The reference is the model as training starts, never trained, and costs no second copy of the base
weights under LoRA:
- LoRA with an adapter that starts at zero (peft's initialization: lora_B = 0): the same model with the
  adapter disabled, which is exactly the starting model;
- LoRA that starts from a trained adapter (`init_weights`, e.g. a supervised run's checkpoint): the same
  model with a frozen copy of the starting adapter weights put in for the reference pass
  (`torch.func.functional_call`, nothing written into the model); the copy is the adapter's size only;
- full fine-tuning: a frozen copy of the whole model, made once when the model loads;
- a reference-free loss ("simpo"): no reference pass at all.
The reference pass runs once per batch, without gradient, in eval mode (no dropout: the reference is one
fixed function), on the same concatenated batch as the policy.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch

from modules.errors import UserInputError
from modules.preference_loss import REFERENCE_FREE, PreferenceOutput, preference_loss, sequence_logps


@dataclass
class PreferenceArgs:
    """Preference tuning settings (`CausalLM(preference=...)`).

    Args:
        beta: DPO's temperature: small keeps the policy near the reference (TRL's default, 0.1).
        loss_type: "sigmoid" (DPO) or "simpo" (reference-free, length-normalized).
        gamma: SimPO's target reward margin; unused by "sigmoid".
        sft_weight: weight of an SFT loss on the chosen responses added to the preference loss (RPO; TRL's
            `loss_type=["sigmoid", "sft"]`): 0 is the preference loss alone.
    """

    beta: float = 0.1
    loss_type: Literal["sigmoid", "simpo"] = "sigmoid"
    gamma: float = 0.5
    sft_weight: float = 0.0


# Strategies that shard the weights: the reference pass (adapter disabled or swapped, a whole-model copy) is
# written for weights each process holds whole, and untested there.
SHARDING = ("FSDP", "DeepSpeed", "ModelParallel")


def check_strategy(strategy) -> None:
    """Preference tuning runs on one device or with DDP; a sharding strategy is refused before loading."""
    name = type(strategy).__name__
    if any(kind in name for kind in SHARDING):
        raise UserInputError(
            f"preference tuning runs on one device or with DDP, not with {name}: the reference model "
            "pass expects each process to hold the whole model"
        )


@contextmanager
def eval_mode(model):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def adapter_is_zero(model) -> bool:
    """Whether the LoRA adapter adds nothing yet (every lora_B is zero, as peft initializes it)."""
    lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
    return bool(lora_b) and all(not p.detach().any() for p in lora_b)


class PreferenceObjective:
    """The loss of a preference batch: rows [chosen; rejected] (`chosen_rows` of each), labels masked to
    the responses (`datamodules.preferences`).

    Args:
        args: the loss and its settings.
    """

    def __init__(self, args: PreferenceArgs):
        self.args = args
        self.reference_model = None  # full fine-tuning: a frozen copy
        self.reference_adapter: dict[str, torch.Tensor] | None = None  # LoRA from a trained adapter
        self.disable_adapter = False  # LoRA from zero: the model itself, adapter off
        self.ready = False

    def prepare(self, model, lora: bool) -> None:
        """Fix the reference as the model is now: call once the starting weights are loaded, before training
        (and before a resumed run's checkpoint restores the trained ones: the reference stays the start)."""
        self.ready = True
        if self.args.loss_type in REFERENCE_FREE:
            return
        if not lora:
            self.reference_model = copy.deepcopy(model).eval().requires_grad_(False)
        elif adapter_is_zero(model):
            self.disable_adapter = True
        else:
            self.reference_adapter = {
                name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad
            }

    @staticmethod
    def training_loss(module, batch: dict) -> torch.Tensor:
        """A preference batch's loss in `module` (a `CausalLM`), its rewards logged; masks and logit
        positions as its supervised batches get them."""
        if module.objective is None:
            raise UserInputError(
                "the data are preference pairs but the model trains supervised: set "
                "model.init_args.preference"
            )
        mask = None if batch.get("pads_right") else batch["attention_mask"]
        positions = batch.get("logit_positions") if module.trained_logits_only else None
        out = module.objective(module.model, batch, positions, mask)
        for key, value in out.metrics().items():
            module.log(f"train/{key}", value, batch_size=batch["chosen_rows"])
        return out.loss

    @torch.no_grad()
    def reference_logps(self, model, batch: dict, positions, mask) -> torch.Tensor | None:
        """The reference's summed log-probability of every row, or None for a reference-free loss."""
        if self.args.loss_type in REFERENCE_FREE:
            return None
        if not self.ready:
            raise RuntimeError("PreferenceObjective.prepare must run before the first batch")
        ids, labels = batch["input_ids"], batch["labels"]
        if self.reference_model is not None:
            return sequence_logps(self.reference_model, ids, labels, mask, positions)[0]
        with eval_mode(model):
            if self.disable_adapter:
                with model.disable_adapter():
                    return sequence_logps(model, ids, labels, mask, positions)[0]

            def reference(**kwargs):
                return torch.func.functional_call(model, self.reference_adapter, (), kwargs, strict=False)

            return sequence_logps(reference, ids, labels, mask, positions)[0]

    def __call__(
        self, model, batch: dict, positions: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> PreferenceOutput:
        """The loss of the batch; `positions` are where logits are needed (None: everywhere), `mask` the
        attention mask (None for rows padded on the right only, as for SFT batches: `CausalLM._loss`)."""
        reference = self.reference_logps(model, batch, positions, mask)
        logps, tokens = sequence_logps(model, batch["input_ids"], batch["labels"], mask, positions)
        pairs = batch["chosen_rows"]
        ref_chosen = ref_rejected = None
        if reference is not None:
            ref_chosen, ref_rejected = reference[:pairs], reference[pairs:]
        return preference_loss(
            logps[:pairs],
            logps[pairs:],
            ref_chosen,
            ref_rejected,
            self.args.beta,
            self.args.loss_type,
            tokens[:pairs],
            tokens[pairs:],
            self.args.gamma,
            self.args.sft_weight,
        )
