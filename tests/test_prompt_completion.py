"""The prompt -> completion data module: files, masks, chat templates, clear errors."""

import pytest

from datamodules.formats import read_examples
from datamodules.records import DataError
from datamodules.sums.data import SumsDataModule
from datamodules.sums.spanish import target_of
from tests.helpers import TINY_MISTRAL


def test_reads_prompt_completion_jsonl(tmp_path):
    path = tmp_path / "pc.jsonl"
    path.write_text('{"prompt": "20 más 23 es igual a", "completion": "nueve"}\n\n', encoding="utf-8")
    [example] = read_examples(str(path))
    assert example == {
        "prompt": "20 más 23 es igual a",
        "completion": "nueve",
        "reference": None,
        "where": f"{path}:1",
    }
    assert target_of(example["prompt"]) == 43


def test_reads_a_datasets_source(tmp_path):
    path = tmp_path / "sums.csv"
    path.write_text("prompt,completion\n12 es igual a,nueve más tres\n", encoding="utf-8")
    assert read_examples(str(path)) == [
        {"prompt": "12 es igual a", "completion": "nueve más tres", "reference": None, "where": f"{path}:2"}
    ]


def _setup(tmp_path, **kwargs):
    dm = SumsDataModule(tokenizer=TINY_MISTRAL, num_examples=8, num_val_examples=4, **kwargs)
    dm.setup("fit")
    return dm


def test_prompt_is_masked_and_eos_is_trained_when_pad_is_eos(tmp_path):
    dm = _setup(tmp_path)
    tok = dm.tokenizer
    assert tok.pad_token_id == tok.eos_token_id  # tiny-mistral has no pad token
    item = dm.datasets["train"][0]
    n_prompt = len(item["prompt_ids"])
    assert item["input_ids"][:n_prompt] == item["prompt_ids"]
    assert all(label == -100 for label in item["labels"][:n_prompt])
    assert item["labels"][n_prompt:] == item["input_ids"][n_prompt:]
    assert item["labels"][-1] == tok.eos_token_id
    batch = dm.collate(dm.datasets["train"][:4])
    lengths = batch["attention_mask"].sum(1)
    for row, length in enumerate(lengths.tolist()):  # the EOS at each row's end is a label, padding is not
        assert batch["labels"][row, length - 1] == tok.eos_token_id
        assert (batch["labels"][row, length:] == -100).all()
    assert (batch["prompt_mask"][:, -1] == 1).all()  # prompts pad on the left for generation


def test_chat_template_renders_the_reference_text_with_a_single_bos(tmp_path):
    dm = _setup(tmp_path)
    example = {"prompt": "33 es igual a", "completion": "cinco más tres", "reference": "33"}
    item = dm.tokenize(example)
    assert dm.tokenizer.decode(item["input_ids"]) == "<s>[INST] 33 es igual a [/INST] cinco más tres</s>"
    assert item["input_ids"].count(dm.tokenizer.bos_token_id) == 1
    raw = _setup(tmp_path, chat_template=False)
    assert raw.tokenizer.decode(raw.tokenize(example)["input_ids"]).count("<s>") == 1


def test_empty_dataset_says_so(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty.jsonl.*holds no examples"):
        read_examples(str(empty))
    dm = SumsDataModule(tokenizer=TINY_MISTRAL, num_examples=0)
    with pytest.raises(DataError, match="train set is empty"):
        dm.setup("fit")


def test_missing_data_file_says_so(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_examples(str(tmp_path / "nope.jsonl"))
