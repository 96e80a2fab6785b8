"""`lit data`: writes a task's examples as JSONL."""

import json

import pytest

from datamodules.formats import read_examples
from datamodules.sums.data import generate_sums
from datamodules.sums.spanish import read_sum, target_of
from lit.cli import cli_main
from tests.helpers import ROOT


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


HELD_OUT_CONFIG = """
data:
  class_path: datamodules.SumsDataModule
  init_args:
    num_examples: 3000
    num_val_examples: 100
    num_test_examples: 200
    addends: tens
    held_out_every: 6
    composed_fraction: 0.3
"""


@pytest.mark.parametrize("shipped", [True, False], ids=["configs/embedded/sums.yaml", "a test config"])
def test_sums_splits_of_a_config_that_holds_out_targets_are_disjoint_in_the_sums_they_ask_for(tmp_path, shipped):
    config = tmp_path / "sums.yaml"
    config.write_text(HELD_OUT_CONFIG, encoding="utf-8")
    if shipped:  # the main job as committed
        config = ROOT / "configs" / "embedded" / "sums.yaml"
    asked = {}
    for split in ("train", "val", "val_seen", "val_composed", "test"):
        out = tmp_path / f"{split}.jsonl"
        cli_main(["data", "sums", "--split", split, "--config", str(config), "--format", "prompt-completion",
                  "--out", str(out)])  # fmt: skip
        examples = read_examples(str(out))
        asked[split] = {target_of(e["prompt"]) for e in examples}  # composed: the sum of the prompt's numbers
        assert all(read_sum(e["completion"]) == (target_of(e["prompt"]), True) for e in examples)
    train = asked["train"]
    assert train and not train & (asked["val"] | asked["test"] | asked["val_composed"])
    assert asked["val_seen"] <= train and asked["val"] == asked["test"] == asked["val_composed"]
    train_prompts = [e["prompt"] for e in read_examples(str(tmp_path / "train.jsonl"))]
    named_in_training = {int(n) for p in train_prompts for n in p.split() if n.isdigit()}
    assert not named_in_training & asked["val"]  # not as a sum, nor as a number of a composed prompt
    assert 0.2 < sum(" más " in p for p in train_prompts) / len(train_prompts) < 0.4  # composed in training
    composed = [e["prompt"] for e in read_examples(str(tmp_path / "val_composed.jsonl"))]
    assert all(" más " in p for p in composed)


def test_a_split_the_config_does_not_have_is_a_clear_error(tmp_path):
    config = tmp_path / "no_composed.yaml"
    config.write_text(HELD_OUT_CONFIG.replace("composed_fraction: 0.3", "composed_fraction: 0.0"), encoding="utf-8")
    with pytest.raises(SystemExit, match="has no 'val_composed' set"):
        cli_main(["data", "sums", "--split", "val_composed", "--config", str(config), "--out", str(tmp_path / "x.jsonl")])
