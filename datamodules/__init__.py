"""LightningDataModules, one per task."""

from datamodules.java_corpus import JavaCorpusDataModule
from datamodules.java_instruct import JavaInstructDataModule
from datamodules.prompt_completion import PromptCompletionDataModule
from datamodules.sums import SumsDataModule

__all__ = ["JavaCorpusDataModule", "JavaInstructDataModule", "PromptCompletionDataModule", "SumsDataModule"]
