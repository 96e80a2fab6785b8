"""Reading users' records (JSONL, CSV, datasets): every bad input names its file and line."""

import json
import sys

import pytest

from datamodules.formats import read_examples
from datamodules.records import DataError
from datamodules.sums import SumsDataModule, generate_sums, to_mistral_text
from tests.helpers import GOOD_EXAMPLE, TINY_MISTRAL, write_jsonl


def test_empty_sets_and_missing_fields_name_the_source_and_line(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", GOOD_EXAMPLE, {"prompt": "3 es igual a", "completion": ""})
    with pytest.raises(DataError, match=rf"1 of 2 train examples \({train}:2\): empty completion"):
        SumsDataModule(tokenizer=TINY_MISTRAL, train_file=train, num_val_examples=2).setup("fit")
    null = write_jsonl(
        tmp_path / "null.jsonl", GOOD_EXAMPLE, GOOD_EXAMPLE, {"prompt": None, "completion": "uno"}
    )
    with pytest.raises(DataError, match=rf"{null}:3: 'prompt' is null, not text"):
        read_examples(null)
    blank = write_jsonl(tmp_path / "blank.jsonl", {"prompt": "  ", "completion": "uno"})
    with pytest.raises(DataError, match=rf"{blank}:1: empty prompt"):
        read_examples(blank)
    (tmp_path / "val.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"val\.jsonl' holds no examples"):
        SumsDataModule(tokenizer=TINY_MISTRAL, num_examples=8, val_file=str(tmp_path / "val.jsonl")).setup(
            "fit"
        )


def test_non_utf8_and_truncated_jsonl_name_the_file_and_line(tmp_path, monkeypatch, capsys):
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes(
        b'{"prompt": "1 es igual a", "completion": "uno"}\n'
        b'{"prompt": "2 es igual a", "completion": "dos m\xe1s"}\n'
    )
    with pytest.raises(
        DataError, match=rf"{latin}:2: not valid UTF-8 \(invalid continuation byte at byte \d+ of the line\)"
    ):
        read_examples(str(latin))
    cut = tmp_path / "cut.jsonl"
    cut.write_text(
        json.dumps(GOOD_EXAMPLE) + "\n" + json.dumps(GOOD_EXAMPLE) + '\n{"prompt": "3 es igual a", "compl',
        encoding="utf-8",
    )
    with pytest.raises(
        DataError, match=rf"{cut}:3: not valid JSON: .*\(the file ends inside this record: truncated\?\)"
    ):
        read_examples(str(cut))
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD_EXAMPLE).encode() + b"\n")
    assert read_examples(str(bom))[0]["prompt"] == GOOD_EXAMPLE["prompt"]  # a byte-order mark is not an error
    # and the command line says it in one line, before any model loads
    from lit.cli import main

    argv = [
        "lit",
        "fit",
        "--config",
        "configs/tiny/sums.yaml",
        "--data.init_args.train_file",
        str(cut),
        "--trainer.default_root_dir",
        str(tmp_path),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    assert str(stop.value.code).startswith(f"lit: error: {cut}:3: not valid JSON")


def test_malformed_and_unknown_records_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(to_mistral_text(generate_sums(1, 0)[0])) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: not valid JSON"):
        read_examples(str(bad))
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"question": "1"}\n', encoding="utf-8")
    with pytest.raises(
        DataError, match=r"wrong\.jsonl:1: the record fits no format \(keys: \['question'\]\)"
    ):
        read_examples(str(wrong))  # (non-UTF-8 and truncated files: the test above)
