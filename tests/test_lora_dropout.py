"""The fast LoRA dropout has torch's distribution."""

import pytest
import torch

from modules.causal_lm import CausalLM
from modules.peft_config import LoraArgs
from tests.helpers import TINY_MISTRAL


@pytest.mark.parametrize(
    "p", [0.05, 0.25, 0.5]
)  # sparse masks (geometric gaps) up to 0.25, thresholded uniforms above
def test_fast_dropout_drops_each_element_independently_with_probability_p_and_rescales(p):
    from modules.lora_dropout import FastDropout, geometric_gaps, use_fast_dropout

    torch.manual_seed(0)
    layer = FastDropout(p)
    x = torch.ones(400, 1000, requires_grad=True)
    out = layer(x)
    kept = out != 0
    n = kept.numel()
    assert abs(kept.float().mean().item() - (1 - p)) < 4 * (p * (1 - p) / n) ** 0.5  # within 4 sigma
    for part in (
        kept[:, :10],
        kept[:, -10:],
        kept[:200],
        kept[200:],
    ):  # no region favoured (the gaps cover it all)
        assert abs(part.float().mean().item() - (1 - p)) < 6 * (p * (1 - p) / part.numel()) ** 0.5
    flat = kept.flatten().float()  # independent neighbours: P(both kept) = (1 - p)^2
    assert abs((flat[1:] * flat[:-1]).mean().item() - (1 - p) ** 2) < 0.005
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    out.sum().backward()  # the gradient goes through the kept elements only, scaled
    torch.testing.assert_close(x.grad, kept.float() / (1 - p))
    assert not torch.equal(out, layer(x))  # a new mask each call
    torch.manual_seed(1)
    first = layer(x)
    torch.manual_seed(1)
    assert torch.equal(first, layer(x))  # torch's seed fixes the mask
    layer.eval()
    assert torch.equal(layer(torch.ones(3, 4)), torch.ones(3, 4))
    gaps = geometric_gaps(200_000, p).double()  # Geometric(p): mean 1/p, variance (1-p)/p^2, P(1) = p
    assert gaps.min() >= 1 and abs(gaps.mean().item() * p - 1) < 0.02
    assert (
        abs(gaps.var().item() * p**2 / (1 - p) - 1) < 0.05
        and abs((gaps == 1).double().mean().item() - p) < 0.005
    )

    module = CausalLM(
        model=TINY_MISTRAL, lora=LoraArgs(r=4, alpha=8, dropout=0.1, target_modules="all-linear")
    )
    module.configure_model()
    layers = [m for m in module.model.modules() if isinstance(m, FastDropout)]
    assert len(layers) == 2 * 7 and all(m.p == 0.1 for m in layers)  # 7 linear layers x 2 blocks
    assert use_fast_dropout(module.model) == 0  # nothing left to replace
