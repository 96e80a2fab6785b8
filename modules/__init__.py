"""The model layer: the causal-LM LightningModule and its LoRA and 4-bit settings."""

from modules.causal_lm import CausalLM
from modules.peft_config import LoraArgs, QuantArgs

__all__ = ["CausalLM", "LoraArgs", "QuantArgs"]
