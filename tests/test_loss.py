"""The loss at trained positions only equals the full computation."""

import pytest
import torch

from modules.causal_lm import CausalLM
from modules.eval_memory import GIB, loss_bytes
from modules.loss import loss_at_positions, trained_positions
from modules.peft_config import LoraArgs
from tests.helpers import TINY_GPT2, TINY_MISTRAL, java_batch
from tests.helpers.precision import PRECISIONS, autocast, close, module_kwargs, random_adapter_module


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("path", [TINY_MISTRAL, TINY_GPT2])
def test_training_loss_and_gradients_equal_the_full_computation(path, precision):
    """Logits only at trained positions, and no attention mask on right-padded batches: same loss."""
    torch.manual_seed(0)
    module = CausalLM(
        model=path,
        lora=LoraArgs(r=4, alpha=8, dropout=0.0, target_modules="all-linear"),
        **module_kwargs(precision),
    )
    module.configure_model()
    module.model.eval()  # no dropout (GPT-2's config has 0.1): both computations see the same network
    trainable = [p for p in module.parameters() if p.requires_grad]
    for p in trainable:  # LoRA B starts at zero; make the adapter matter
        torch.nn.init.normal_(p, std=0.02)
    batch = java_batch(path)
    assert (batch["attention_mask"] == 0).any() and (
        batch["labels"][:, 1:] == -100
    ).any()  # padding and prompts
    assert 0 < len(batch["logit_positions"]) < batch["input_ids"].shape[1] - 1  # the prompt start is left out

    with autocast(precision):
        full = module.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]
        ).loss
        fast = module._loss(batch)
        assert fast.dtype == full.dtype == torch.float32  # the loss itself is fp32 in both precisions
        torch.testing.assert_close(fast, full, **close(precision, float(full)))
        for a, b in zip(torch.autograd.grad(fast, trainable), torch.autograd.grad(full, trainable)):
            torch.testing.assert_close(a, b, **close(precision, float(b.abs().max())))
        module.trained_logits_only = False
        torch.testing.assert_close(module._loss(batch), full, **close(precision, float(full)))
        positions = batch["logit_positions"]
        torch.testing.assert_close(
            loss_at_positions(
                module.model, batch["input_ids"], batch["attention_mask"], batch["labels"], positions
            ),
            full,
            **close(precision, float(full)),
        )


def test_trained_positions_are_where_some_row_trains_its_next_token():
    labels = torch.tensor([[-100, -100, 5, 6, -100], [-100, -100, -100, 7, 8]])
    # next-token labels: row 0 at positions 1, 2; row 1 at positions 2, 3
    assert trained_positions(labels).tolist() == [1, 2, 3]


def test_the_evaluation_loss_in_pieces_equals_the_loss_of_the_whole_batch():
    torch.manual_seed(0)
    module = random_adapter_module(TINY_MISTRAL, "32-true")
    batch = java_batch(TINY_MISTRAL)
    whole = module._eval_loss(batch)
    length, kept = batch["labels"].shape[1], len(batch["logit_positions"])
    # A budget between the estimates for 3 and 4 rows: 8 rows run as 3 calls (3 + 3 + 2).
    sizes = [loss_bytes(module.model.config, n, length, kept, 4) for n in (3, 4)]
    module.eval_memory_gib = sum(sizes) / 2 / GIB
    pieces = module._eval_loss(batch)
    torch.testing.assert_close(pieces, whole, rtol=1e-5, atol=1e-6)
    assert ("loss", 8, 3) in module.planner.said
