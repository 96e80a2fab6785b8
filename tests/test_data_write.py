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
def test_sums_splits_of_a_config_that_holds_out_targets_are_disjoint_in_the_sums_they_ask_for(
    tmp_path, shipped
):
    config = tmp_path / "sums.yaml"
    config.write_text(HELD_OUT_CONFIG, encoding="utf-8")
    if shipped:  # the main job as committed
        config = ROOT / "configs" / "embedded" / "sums.yaml"
    asked, prompts = {}, {}
    for split in ("train", "val", "val_seen", "test"):
        out = tmp_path / f"{split}.jsonl"
        cli_main(
            [
                "data",
                "sums",
                "--split",
                split,
                "--config",
                str(config),
                "--format",
                "prompt-completion",
                "--out",
                str(out),
            ]
        )
        examples = read_examples(str(out))
        asked[split] = {target_of(e["prompt"]) for e in examples}  # composed: the sum of the prompt's numbers
        prompts[split] = [e["prompt"] for e in examples]
        assert all(read_sum(e["completion"]) == (target_of(e["prompt"]), True) for e in examples)
    train = asked["train"]
    assert train and not train & (asked["val"] | asked["test"]) and not asked["val"] & asked["test"]
    assert asked["val_seen"] == train and asked["val"] | asked["test"] == {15, 21, 27, 33, 39, 45}
    named_in_training = {int(n) for p in prompts["train"] for n in p.split() if n.isdigit()}
    assert not named_in_training & (
        asked["val"] | asked["test"]
    )  # not as a sum, nor inside a composed prompt
    assert (
        0.2 < sum(" más " in p for p in prompts["train"]) / len(prompts["train"]) < 0.4
    )  # composed in training
    for split in ("val", "test"):  # the targets' own prompts, then distinct composed ones
        assert len(set(prompts[split])) == len(prompts[split]) == {"val": 100, "test": 200}[split]
        assert sum(" más " not in p for p in prompts[split]) == 3


def test_a_split_the_config_does_not_have_is_a_clear_error(tmp_path):
    config = tmp_path / "no_held_out.yaml"
    config.write_text(HELD_OUT_CONFIG.replace("held_out_every: 6", "held_out_every: 0"), encoding="utf-8")
    with pytest.raises(SystemExit, match="has no 'val_seen' set"):
        cli_main(
            [
                "data",
                "sums",
                "--split",
                "val_seen",
                "--config",
                str(config),
                "--out",
                str(tmp_path / "x.jsonl"),
            ]
        )
