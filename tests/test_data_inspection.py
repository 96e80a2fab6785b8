"""`lit data inspect`: rendered examples with the trained tokens marked, length statistics, the examples
`max_length` cuts and the pre-flight's verdict, without loading model weights."""

import transformers

from lit.cli import cli_main
from lit.data.inspection import CLOSE, OPEN
from tests.helpers import write_jsonl

CONVERSATION = [
    {"role": "user", "content": "12 es igual a"},
    {"role": "assistant", "content": "nueve más tres"},
    {"role": "user", "content": "20 es igual a"},
    {"role": "assistant", "content": "nueve más nueve más dos"},
]


def never_load(*args, **kwargs):
    raise AssertionError("lit data inspect loaded model weights")


def test_inspect_marks_the_trained_tokens_and_counts_what_max_length_cuts(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", never_load)
    train = write_jsonl(
        tmp_path / "chat.jsonl",
        {"messages": CONVERSATION},
        {"messages": CONVERSATION[:2]},
        {
            "messages": [
                {"role": "user", "content": "33 es igual a"},
                {"role": "assistant", "content": "nueve más nueve más nueve más seis"},
            ]
        },
    )
    cli_main(
        [
            "data",
            "inspect",
            "--config",
            "configs/tiny/sums.yaml",
            "--data.init_args.train_file",
            train,
            "-n",
            "2",
            "--plain",
        ]
    )
    out = capsys.readouterr().out
    assert (
        "lit data inspect: SumsDataModule, tokenizer tests/assets/tiny-mistral (its chat template), "
        "max_length 96" in out
    )
    assert f"train example 1 of 3 ({train}:1): 33 tokens, 10 trained" in out
    assert (
        f"  <s>[INST] 12 es igual a [/INST]{OPEN} nueve más tres</s>{CLOSE}[INST] 20 es igual a [/INST]"
        f"{OPEN} nueve más nueve más dos</s>{CLOSE}"
    ) in out
    assert "train example 3 of 3" not in out  # -n 2
    assert (
        "  train: 3 examples, tokens min 16, median 20, mean 23.0, p95 33, max 33; 7.3 trained on average;"
        in out
    )
    assert "0 cut by max_length 96" in out and "  val: 16 examples" in out
    assert out.rstrip().endswith("pre-flight (train, val): passed")


def test_inspect_reports_a_failing_preflight_and_the_examples_cut(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        "lit.data.inspection._use_rich", lambda plain: True
    )  # as on a terminal: colours, no markers
    train = write_jsonl(tmp_path / "chat.jsonl", {"messages": CONVERSATION}, {"messages": CONVERSATION[:2]})
    cli_main(
        [
            "data",
            "inspect",
            "--config",
            "configs/tiny/sums.yaml",
            "--data.init_args.train_file",
            train,
            "--data.init_args.max_length",
            "12",
            "--split",
            "val",
            "-n",
            "1",
            "--tokens",
        ]
    )
    out = capsys.readouterr().out
    assert (
        "val example 1 of 16 (generated val example 1): 12 tokens, 0 trained, cut by max_length 12 from 26"
        in out
    )
    assert "  <s>|[|INST|]| 4|3| es| igual| a| [/|INST|]|\n" in out  # token boundaries
    assert "legend: context (masked)  trained" in out and OPEN not in out
    assert (
        "  train: 2 examples, tokens min 16, median 24.5, mean 24.5, p95 33, max 33; 0.0 trained on average; "
        "2 cut by max_length 12" in out
    )
    assert (
        "pre-flight (train, val): FAILED: 2 of 2 train examples " in out
        and "cuts away the whole completion" in out
    )
