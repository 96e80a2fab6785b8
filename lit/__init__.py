"""lit: fine-tuning causal language models with PyTorch Lightning."""

from lit.cli import cli_main

__all__ = ["cli_main"]
