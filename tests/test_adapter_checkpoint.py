"""Adapter-only checkpoints: the right adapter or a clear refusal."""

import pytest
import torch

from lit.cli import cli_main
from modules.causal_lm import CausalLM
from modules.peft_config import LoraArgs
from tests.helpers import TINY_MISTRAL


def test_adapter_checkpoint_for_other_lora_settings_is_refused(tiny_fit_args, tmp_path):
    cli_main(tiny_fit_args + ["--trainer.max_epochs", "1"])
    other = CausalLM(model=TINY_MISTRAL, quantization=None, lora=LoraArgs(target_modules=["q_proj"]))
    other.configure_model()
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    with pytest.raises(RuntimeError, match="does not match this model's LoRA adapter"):
        other.load_state_dict(state)


def test_init_weights_refuses_full_weights_under_4bit(tmp_path):
    from modules.errors import UserInputError
    from modules.peft_config import QuantArgs

    full = tmp_path / "full.ckpt"
    torch.save({"state_dict": {"model.lm_head.weight": torch.zeros(1)}}, full)
    model = CausalLM(model=TINY_MISTRAL, quantization=QuantArgs(), lora=LoraArgs(), init_weights=str(full))
    with pytest.raises(UserInputError, match="holds full weights; they cannot load into a 4-bit base"):
        model.configure_model()
