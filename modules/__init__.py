"""The causal-LM LightningModule and the task metrics."""

from modules.causal_lm import CausalLM
from modules.peft_config import LoraArgs, QuantArgs

__all__ = ["CausalLM", "LoraArgs", "QuantArgs"]
