"""The Spanish sums task: `33 es igual a` -> number words that add up to 33, scored by the sum's error."""

from datamodules.sums.chat import SumsChatDataModule
from datamodules.sums.data import SumsDataModule, generate_sums, to_mistral_text
from datamodules.sums.metric import SumMAE, sum_error, words_sum_error

__all__ = [
    "SumMAE",
    "SumsChatDataModule",
    "SumsDataModule",
    "generate_sums",
    "sum_error",
    "to_mistral_text",
    "words_sum_error",
]
