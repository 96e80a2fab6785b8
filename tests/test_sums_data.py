import json

import pytest

from datamodules.records import DataError, read_examples
from datamodules.spanish import read_sum, target_of
from datamodules.sums import SumsDataModule, generate_sums, make_addends, to_seed_text
from lit.cli import cli_main
from tests.conftest import TINY_MISTRAL


def test_generator_sums_exactly_in_range_and_is_reproducible():
    examples = generate_sums(600, seed=0)
    assert examples == generate_sums(600, seed=0)
    assert examples != generate_sums(600, seed=1)
    targets = [int(e["reference"]) for e in examples]
    assert min(targets) == 10 and max(targets) == 50
    for e in examples:
        total, parsed = read_sum(e["completion"])
        assert parsed and total == int(e["reference"]) == target_of(e["prompt"])
        assert all(1 <= a <= 9 for a in make_addends(int(e["reference"]), __import__("random").Random(0)))


@pytest.mark.parametrize("style", ["random", "descending", "greedy"])
def test_addend_styles_reach_the_target(style):
    import random

    rng = random.Random(3)
    for target in range(10, 51):
        addends = make_addends(target, rng, style)
        assert sum(addends) == target and all(1 <= a <= 9 for a in addends)
        if style == "descending":
            assert addends == sorted(addends, reverse=True)
    assert make_addends(33, rng, "greedy") == [9, 9, 9, 6]


def test_data_command_writes_the_seed_format(tmp_path):
    out = tmp_path / "sums.jsonl"
    cli_main(["data", "sums", "--num-examples", "600", "--seed", "0", "--out", str(out)])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 600
    text = json.loads(lines[0])["text"]
    assert text.startswith("<s>[INST] ") and " es igual a [/INST] " in text and text.endswith(" </s>")
    # and it reads back as the same examples
    assert [e["completion"] for e in read_examples(str(out))] == [
        e["completion"] for e in generate_sums(600, seed=0)
    ]


def test_reads_prompt_completion_jsonl(tmp_path):
    path = tmp_path / "pc.jsonl"
    path.write_text('{"prompt": "20 más 23 es igual a", "completion": "nueve"}\n\n', encoding="utf-8")
    [example] = read_examples(str(path))
    assert example == {"prompt": "20 más 23 es igual a", "completion": "nueve", "reference": None, "where": f"{path}:1"}
    assert target_of(example["prompt"]) == 43


def test_reads_a_datasets_source(tmp_path):
    path = tmp_path / "sums.csv"
    path.write_text("prompt,completion\n12 es igual a,nueve más tres\n", encoding="utf-8")
    assert read_examples(str(path)) == [
        {"prompt": "12 es igual a", "completion": "nueve más tres", "reference": None, "where": f"{path}[0]"}
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


def test_chat_template_renders_the_seed_text_with_a_single_bos(tmp_path):
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


def test_malformed_jsonl_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(to_seed_text(generate_sums(1, 0)[0])) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: not valid JSON"):
        read_examples(str(bad))
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"question": "1"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"wrong\.jsonl:1: record has neither 'prompt' nor 'text'"):
        read_examples(str(wrong))
    binary = tmp_path / "latin1.jsonl"
    binary.write_bytes('{"prompt": "1"}\n{"prompt": "más"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.jsonl:2: not valid UTF-8"):
        read_examples(str(binary))


def test_missing_data_file_says_so(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_examples(str(tmp_path / "nope.jsonl"))
