"""The data layer: one LightningDataModule per task (a package each: `sums/`, `java/`), on the shared
prompt -> completion base. Imports run one way: `lit/` -> `datamodules/` -> `modules/`."""

from datamodules.java import JavaCorpusDataModule, JavaInstructDataModule
from datamodules.preferences import PreferenceDataModule
from datamodules.prompt_completion import PromptCompletionDataModule
from datamodules.sums import SumsChatDataModule, SumsDataModule

__all__ = [
    "JavaCorpusDataModule",
    "JavaInstructDataModule",
    "PreferenceDataModule",
    "PromptCompletionDataModule",
    "SumsChatDataModule",
    "SumsDataModule",
]
