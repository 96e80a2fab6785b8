"""LightningDataModules, one per task."""

from datamodules.prompt_completion import PromptCompletionDataModule
from datamodules.sums import SumsDataModule

__all__ = ["PromptCompletionDataModule", "SumsDataModule"]
