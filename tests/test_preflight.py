"""The pre-flight check: a rendered example with its label mask, cut and malformed examples caught."""

import pytest

from datamodules.records import DataError
from datamodules.sums import SumsDataModule
from tests.helpers import GOOD_EXAMPLE, TINY_MISTRAL, write_jsonl


def test_preflight_shows_a_tokenized_example_with_its_label_mask(caplog):
    dm = SumsDataModule(tokenizer=TINY_MISTRAL, num_examples=8, num_val_examples=4)
    with caplog.at_level("INFO"):
        dm.setup("fit")
    text = caplog.text
    assert "lit: pre-flight, train example 1 of 8 (generated train example 1)" in text
    assert "rendered:         '<s>[INST] " in text and "</s>'" in text
    masked = next(line for line in text.splitlines() if "masked (prompt):" in line)
    trained = next(line for line in text.splitlines() if "trained (labels):" in line)
    assert masked.split(":", 1)[1].strip().startswith("<s>|") and "INST" in masked  # the prompt is masked
    assert trained.rstrip().endswith("</s>")  # the EOS ending the completion is trained
    assert "lit: pre-flight passed: 8 train, 4 val examples" in text


def test_preflight_refuses_a_completion_cut_away_and_counts_cut_ones(tmp_path):
    long_prompt = "20 más 23 es igual a " * 12
    train = write_jsonl(
        tmp_path / "train.jsonl", GOOD_EXAMPLE, {"prompt": long_prompt, "completion": "nueve"}
    )
    dm = SumsDataModule(tokenizer=TINY_MISTRAL, train_file=train, num_val_examples=2, max_length=48)
    says = rf"1 of 2 train examples \({train}:2\): the prompt alone is up to \d+ tokens, so max_length=48"
    with pytest.raises(DataError, match=says + " cuts away the whole completion"):
        dm.setup("fit")
    # Cut part-way (the prompt and one completion token fit): counted and named; training goes on.
    probe = SumsDataModule(tokenizer=TINY_MISTRAL, num_val_examples=2)
    probe.setup("validate")
    prompt_tokens = len(probe._encode(probe.render_prompt(long_prompt)))
    dm = SumsDataModule(
        tokenizer=TINY_MISTRAL, train_file=train, num_val_examples=2, max_length=prompt_tokens + 1
    )
    with pytest.warns(UserWarning, match=rf"1 of 2 train examples \({train}:2\) are longer than max_length"):
        dm.setup("fit")


def test_preflight_catches_a_missing_eos(tmp_path):
    class MasksPadding(SumsDataModule):  # a common bug: pad == EOS, padding masked by token id
        def collate(self, items):
            batch = super().collate(items)
            batch["labels"][batch["input_ids"] == self.tokenizer.pad_token_id] = -100
            return batch

    dm = MasksPadding(tokenizer=TINY_MISTRAL, num_examples=8, num_val_examples=2)
    with pytest.raises(DataError, match="masks out the EOS that ends each completion"):
        dm.setup("fit")
    # An EOS written into the data itself would end generation early.
    train = write_jsonl(
        tmp_path / "train.jsonl", GOOD_EXAMPLE, {"prompt": "3 es igual a", "completion": "tres</s> más"}
    )
    dm = SumsDataModule(tokenizer=TINY_MISTRAL, train_file=train, num_val_examples=2)
    with pytest.raises(
        DataError, match=rf"\({train}:2\): the completion itself contains the EOS token '</s>'"
    ):
        dm.setup("fit")


def test_preflight_catches_a_doubled_bos():
    class TwoBos(SumsDataModule):
        def render_prompt(self, prompt):
            return self.tokenizer.bos_token + super().render_prompt(prompt)  # the chat template adds one too

    with pytest.raises(
        DataError, match=r"8 of 8 train examples .* start with more than one BOS token \('<s>'\)"
    ):
        TwoBos(tokenizer=TINY_MISTRAL, num_examples=8, num_val_examples=2).setup("fit")
