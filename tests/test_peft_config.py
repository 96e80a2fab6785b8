"""LoRA and 4-bit settings: a wrong target names the layers there are."""

import pytest

from lit.cli import cli_main


def test_missing_lora_target_lists_the_linear_layers(tiny_fit_args):
    with pytest.raises(ValueError, match=r"\['qkv'\] match no linear layer.*k_proj.*q_proj.*v_proj"):
        cli_main(tiny_fit_args + ["--model.init_args.lora.target_modules", "[qkv]"])
