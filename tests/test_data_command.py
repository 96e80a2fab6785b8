"""`lit data`: writes a task's examples as JSONL."""

import json

from datamodules.records import read_examples
from datamodules.sums.data import generate_sums
from lit.cli import cli_main


def test_data_command_java(tmp_path):
    out = tmp_path / "java.jsonl"
    cli_main(["data", "java-instruct", "--num-examples", "50", "--seed", "0", "--out", str(out)])
    assert len(out.read_text(encoding="utf-8").splitlines()) == 50


def test_data_command_writes_the_mistral_format(tmp_path):
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
