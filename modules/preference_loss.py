"""Preference losses on summed sequence log-probabilities: DPO (sigmoid) and the reference-free SimPO.

Conventions follow TRL's `DPOTrainer` (tests/test_preference_loss.py checks the values against it): a
response's log-probability is the sum over its tokens (labels not IGNORE_INDEX) of log p(token | what
precedes it); rewards are beta x (policy - reference) log-probability; the loss is the batch mean.
SimPO (Meng et al., 2024) needs no reference: its reward is beta x the mean log-probability per token, and
the loss asks the chosen reward to exceed the rejected one by a margin gamma.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from modules.loss import IGNORE_INDEX

LOSS_TYPES = ("sigmoid", "simpo")
REFERENCE_FREE = ("simpo",)


@dataclass
class PreferenceOutput:
    """The loss and what is logged of it: per-pair rewards (detached)."""

    loss: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor

    def metrics(self) -> dict[str, torch.Tensor]:
        """`rewards_chosen`, `rewards_rejected`, `reward_accuracy` (the share of pairs the chosen response
        wins) and `margin` (chosen - rejected reward), each the batch mean, as TRL logs them."""
        chosen, rejected = self.chosen_rewards, self.rejected_rewards
        return {
            "rewards_chosen": chosen.mean(),
            "rewards_rejected": rejected.mean(),
            "reward_accuracy": (chosen > rejected).float().mean(),
            "margin": (chosen - rejected).mean(),
        }


def token_logps(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) at each position, 0 where the target is IGNORE_INDEX; computed in fp32 (a bf16
    softmax over the vocabulary loses the precision the differences of sums need)."""
    # cross_entropy with reduction="none" is -log p, without materializing the whole log-softmax.
    flat = F.cross_entropy(
        logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="none"
    )
    return -flat.view(targets.shape)


def sequence_logps(
    model,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    positions: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's summed log-probability of its trained tokens, and how many there are.

    Args:
        positions: the positions whose next token is trained in some row (`modules.loss.trained_positions`):
            the LM head runs there only (`logits_to_keep`), the same sums at less memory; None: everywhere.
    """
    if positions is None:
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]
        targets = labels[:, 1:]
    else:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=positions).logits
        targets = labels[:, positions + 1]
    return token_logps(logits, targets).sum(-1), (targets != IGNORE_INDEX).sum(-1)


def preference_loss(
    chosen_logps: torch.Tensor,
    rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor | None,
    ref_rejected_logps: torch.Tensor | None,
    beta: float,
    loss_type: str = "sigmoid",
    chosen_tokens: torch.Tensor | None = None,
    rejected_tokens: torch.Tensor | None = None,
    gamma: float = 0.5,
    sft_weight: float = 0.0,
) -> PreferenceOutput:
    """The preference loss of a batch of pairs from summed log-probabilities.

    Args:
        chosen_logps, rejected_logps: the policy's summed log-probabilities of each response.
        ref_chosen_logps, ref_rejected_logps: the reference model's; None for a reference-free loss.
        beta: "sigmoid": the DPO temperature (how far the policy may move from the reference);
            "simpo": the scale of the length-normalized reward.
        loss_type: "sigmoid" (DPO, Rafailov et al., 2023) or "simpo" (reference-free).
        chosen_tokens, rejected_tokens: each response's token count ("simpo" only: its per-token mean).
        gamma: SimPO's target margin between the chosen and the rejected reward.
        sft_weight: adds this times the chosen responses' mean token loss (TRL's `loss_type=["sigmoid",
            "sft"]`, `loss_weights=[1, sft_weight]`; RPO): DPO alone may lower the chosen answers'
            likelihood with the rejected ones' where the two share most tokens, the SFT term keeps them
            likely. Needs `chosen_tokens`.
    """
    if loss_type == "sigmoid":
        if ref_chosen_logps is None or ref_rejected_logps is None:
            raise ValueError("the sigmoid (DPO) loss needs the reference model's log-probabilities")
        chosen_logratios = chosen_logps - ref_chosen_logps
        rejected_logratios = rejected_logps - ref_rejected_logps
        # As TRL writes it: beta times the difference of log-ratios, so fp32 rounding matches too.
        loss = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean()
        chosen_rewards, rejected_rewards = beta * chosen_logratios, beta * rejected_logratios
    elif loss_type == "simpo":
        if chosen_tokens is None or rejected_tokens is None:
            raise ValueError("the simpo loss needs each response's token count")
        chosen_rewards = beta * chosen_logps / chosen_tokens.clamp(min=1)
        rejected_rewards = beta * rejected_logps / rejected_tokens.clamp(min=1)
        loss = -F.logsigmoid(chosen_rewards - rejected_rewards - gamma).mean()
    else:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if sft_weight:
        if chosen_tokens is None:
            raise ValueError("sft_weight needs each chosen response's token count")
        # The mean over every chosen token of the batch, as TRL's "sft" term (not a mean of row means).
        loss = loss + sft_weight * -chosen_logps.sum() / chosen_tokens.sum().clamp(min=1)
    return PreferenceOutput(loss, chosen_rewards.detach(), rejected_rewards.detach())
