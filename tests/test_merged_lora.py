"""Generation with LoRA merged gives the same tokens and restores the weights exactly."""

import pytest
import torch

from modules.causal_lm import CausalLM
from modules.peft_config import LoraArgs
from tests.helpers import TINY_MISTRAL, java_batch
from tests.helpers.precision import PRECISIONS, autocast, greedy_choice_margins, module_kwargs


@pytest.mark.parametrize("precision", PRECISIONS)
def test_generation_with_merged_lora_gives_the_same_tokens_and_restores_the_weights_exactly(precision):
    from modules.merged_lora import mergeable_layers, merged_lora
    from modules.peft_config import QuantArgs

    torch.manual_seed(0)
    module = CausalLM(model=TINY_MISTRAL, lora=LoraArgs(r=4, alpha=8, dropout=0.1, target_modules="all-linear"),
                      **module_kwargs(precision))  # fmt: skip
    module.configure_model()
    for p in module.parameters():  # a non-zero adapter: merging must change what the base layers compute
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.2)
    batch = java_batch(TINY_MISTRAL)
    ids, mask = batch["prompt_ids"], batch["prompt_mask"]
    module.model.eval()
    before = {name: (p, p.detach().clone()) for name, p in module.model.named_parameters()}
    with torch.no_grad(), autocast(precision):
        unmerged = module.model(input_ids=ids, attention_mask=mask).logits.float()
        with merged_lora(module.model) as count:
            assert count == 2 * 7  # every adapted linear layer of the 2 blocks
            merged = module.model(input_ids=ids, attention_mask=mask).logits.float()
        with module.model.disable_adapter():
            without_adapter = module.model(input_ids=ids, attention_mask=mask).logits.float()
    error, effect = (merged - unmerged).abs(), (without_adapter - unmerged).abs()
    if precision == "32-true":
        torch.testing.assert_close(merged, unmerged, rtol=1e-4, atol=1e-4)
        assert effect.max() > 1e-2  # the adapter matters
    else:  # the merged weight is rounded to bf16 once more: errors of bf16's size, far below the adapter's effect
        assert error.mean() < 0.05 * effect.mean() and error.max() < 0.25 * effect.max()
    for name, p in module.model.named_parameters():  # the same tensors, bit for bit
        assert p is before[name][0] and torch.equal(p, before[name][1]), name
    assert all(not m.disable_adapters for m in mergeable_layers(module.model))

    with autocast(precision):
        module.merge_lora_for_generation = False
        slow = module.generate(ids, mask)
        module.merge_lora_for_generation = True
        if precision == "32-true":
            assert module.generate(ids, mask) == slow
        else:  # the same greedy choices except at ties within the merged weights' rounding error
            new = module._generate_ids(ids, mask)
            margins = greedy_choice_margins(module.model, ids, mask, new, module.tokenizer.eos_token_id)
            assert margins.max() <= 2 * error.max()

    quantized = CausalLM(model=TINY_MISTRAL, quantization=QuantArgs(), lora=LoraArgs(target_modules="all-linear"))
    quantized.configure_model()
    assert mergeable_layers(quantized.model) == []  # 4-bit base layers are never merged
