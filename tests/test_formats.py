"""Record formats (messages, ShareGPT, Alpaca, prompt/completion, text) from every kind of source, each
detected per file or set, and `fit` on a file of each; a record that fits none is one clear line."""

import csv
import json

import pytest

from datamodules.formats import Columns, read_examples
from datamodules.records import DataError
from lit.cli import cli_main
from tests.helpers import write_jsonl

TURNS = [
    {"role": "system", "content": "Suma en palabras."},
    {"role": "user", "content": "12 es igual a"},
    {"role": "assistant", "content": "nueve más tres"},
    {"role": "user", "content": "20 es igual a"},
    {"role": "assistant", "content": "nueve más nueve más dos"},
]
# One record of each format, saying the same thing where the format allows.
RECORDS = {
    "messages": {"messages": TURNS[1:]},
    "sharegpt": {
        "conversations": [
            {"from": "human", "value": "12 es igual a"},
            {"from": "gpt", "value": "nueve más tres"},
            {"from": "human", "value": "20 es igual a"},
            {"from": "gpt", "value": "nueve más nueve más dos"},
        ]
    },
    "alpaca": {"instruction": "20 es igual a", "input": "", "output": "nueve más nueve más dos"},
    "prompt_completion": {"prompt": "20 es igual a", "completion": "nueve más nueve más dos"},
    "mistral": {"text": "<s>[INST] 20 es igual a [/INST] nueve más nueve más dos </s>"},
}


def test_the_reference_experiment_s_format_is_named_mistral_and_its_old_name_still_reads(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", RECORDS["mistral"])
    expected = [{"prompt": "20 es igual a", "completion": "nueve más nueve más dos"}]
    for name in ("auto", "mistral", "text"):
        assert [
            {k: e[k] for k in ("prompt", "completion")} for e in read_examples(path, data_format=name)
        ] == expected


def test_each_format_is_detected_from_the_first_record_and_read(tmp_path):
    for fmt, record in RECORDS.items():
        [example] = read_examples(write_jsonl(tmp_path / f"{fmt}.jsonl", record))
        if fmt in ("messages", "sharegpt"):
            assert example["messages"] == TURNS[1:], fmt
        else:
            assert (example["prompt"], example["completion"]) == (
                "20 es igual a",
                "nueve más nueve más dos",
            ), fmt


def test_system_turns_alpaca_input_and_trl_conversational_records(tmp_path):
    [with_system] = read_examples(write_jsonl(tmp_path / "m.jsonl", {"messages": TURNS}))
    assert with_system["messages"][0] == {"role": "system", "content": "Suma en palabras."}
    sharegpt = {
        "conversations": [
            {"from": "system", "value": "Suma."},
            {"from": "human", "value": "1"},
            {"from": "gpt", "value": "uno"},
        ]
    }
    assert read_examples(write_jsonl(tmp_path / "s.jsonl", sharegpt))[0]["messages"][0]["role"] == "system"
    alpaca = {"instruction": "Suma.", "input": "12 es igual a", "output": "nueve más tres"}
    assert read_examples(write_jsonl(tmp_path / "a.jsonl", alpaca))[0]["prompt"] == "Suma.\n\n12 es igual a"
    alpaca_system = {**alpaca, "system": "Eres una calculadora."}
    assert [
        t["role"] for t in read_examples(write_jsonl(tmp_path / "as.jsonl", alpaca_system))[0]["messages"]
    ] == ["system", "user", "assistant"]
    trl = {
        "prompt": [{"role": "user", "content": "12 es igual a"}],
        "completion": [{"role": "assistant", "content": "nueve más tres"}],
    }
    assert read_examples(write_jsonl(tmp_path / "t.jsonl", trl))[0]["messages"] == TURNS[1:3]


def test_column_mapping_and_a_forced_format(tmp_path):
    path = write_jsonl(
        tmp_path / "q.jsonl", {"question": "12 es igual a", "answer": "nueve más tres", "reference": "12"}
    )
    [example] = read_examples(path, columns=Columns(prompt="question", completion="answer"))
    assert example == {
        "prompt": "12 es igual a",
        "completion": "nueve más tres",
        "reference": "12",
        "where": f"{path}:1",
    }
    chat = write_jsonl(tmp_path / "c.jsonl", {"dialog": TURNS[1:3]})
    assert read_examples(chat, columns=Columns(messages="dialog"))[0]["messages"] == TURNS[1:3]
    sharegpt_named = write_jsonl(
        tmp_path / "d.jsonl", {"dialog": [{"from": "human", "value": "1"}, {"from": "gpt", "value": "uno"}]}
    )
    assert (
        read_examples(sharegpt_named, columns=Columns(messages="dialog"))[0]["messages"][1]["role"]
        == "assistant"
    )
    # A record with both: the detected format is messages; data_format insists on prompt/completion.
    both = write_jsonl(tmp_path / "both.jsonl", {"messages": TURNS[1:3], "prompt": "p", "completion": "c"})
    assert "messages" in read_examples(both)[0]
    assert read_examples(both, data_format="prompt_completion")[0]["prompt"] == "p"
    with pytest.raises(DataError, match=r"c\.jsonl:1: no 'conversations'"):
        read_examples(chat, data_format="sharegpt")


def test_records_that_fit_no_format_or_not_the_files_are_one_line_naming_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", RECORDS["messages"], RECORDS["messages"], {"question": "1"})
    with pytest.raises(DataError) as error:
        read_examples(path)
    message = str(error.value)
    assert message.startswith(f"{path}:3: no 'messages' (keys: ['question'])") and "\n" not in message
    assert "(the file is in the messages format, read from its first record)" in message
    first = write_jsonl(tmp_path / "none.jsonl", {"question": "1", "answer": "2"})
    with pytest.raises(
        DataError,
        match=rf"{first}:1: the record fits no format \(keys: \['answer', 'question'\]\): "
        r"expected 'messages'.*prompt_column",
    ):
        read_examples(first)
    bad_turns = {
        "role": ({"messages": [{"role": "narrator", "content": "x"}]}, "turn 1 has role 'narrator'"),
        "content": (
            {"messages": [{"role": "user", "content": None}]},
            r"turn 1 \(user\) has content null, not text",
        ),
        "system": (
            {"messages": [*TURNS[1:3], TURNS[0]]},
            "turn 3 is a system turn; only the first turn may be",
        ),
        "first": ({"messages": TURNS[2:]}, "the conversation starts with an assistant turn"),
        "speaker": ({"conversations": [{"from": "narrator", "value": "x"}]}, "turn 1 is from 'narrator'"),
        "not a list": ({"messages": "hola"}, "'messages' is \"hola\", not a list of turns"),
    }
    for name, (record, says) in bad_turns.items():
        with pytest.raises(DataError, match=rf"{name.replace(' ', '_')}\.jsonl:1: {says}"):
            read_examples(write_jsonl(tmp_path / f"{name.replace(' ', '_')}.jsonl", record))


def write_source(tmp_path, kind: str, records: list[dict]) -> str:
    """`records` as a source of `kind`: jsonl, json (an array), csv, parquet, saved (save_to_disk), folder."""
    import datasets

    if kind == "jsonl":
        return write_jsonl(tmp_path / "data.jsonl", *records)
    if kind == "json":
        (tmp_path / "data.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        return str(tmp_path / "data.json")
    flat = [
        {k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for k, v in r.items()}
        for r in records
    ]
    if kind == "csv":
        with open(tmp_path / "data.csv", "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(flat[0]))
            writer.writeheader()
            writer.writerows(flat)
        return str(tmp_path / "data.csv")
    dataset = datasets.Dataset.from_list(records)
    if kind == "parquet":
        dataset.to_parquet(str(tmp_path / "data.parquet"))
        return str(tmp_path / "data.parquet")
    if kind == "saved":
        datasets.DatasetDict({"train": dataset, "validation": dataset}).save_to_disk(str(tmp_path / "saved"))
        return str(tmp_path / "saved")
    (tmp_path / "folder").mkdir()
    dataset.to_parquet(str(tmp_path / "folder" / "train.parquet"))  # what `load_dataset(name)` reads
    return str(tmp_path / "folder")


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv", "parquet", "saved", "folder"])
def test_conversations_from_every_kind_of_source(tmp_path, kind):
    source = write_source(tmp_path, kind, [RECORDS["messages"], {"messages": TURNS}])
    examples = read_examples(source)
    assert [e["messages"] for e in examples] == [TURNS[1:], TURNS]
    where = {
        "jsonl": f"{source}:2",
        "json": f"{source}[1]",
        "csv": f"{source}:3",
        "parquet": f"{source}[1]",
        "saved": f"{source}:train[1]",
        "folder": f"{source}:train[1]",
    }[kind]
    assert examples[1]["where"] == where


def test_a_saved_dataset_gives_its_validation_split_and_names_a_missing_one(tmp_path):
    source = write_source(tmp_path, "saved", [RECORDS["prompt_completion"]])
    assert read_examples(source, "validation")[0]["where"] == f"{source}:validation[0]"
    with pytest.raises(DataError, match=r"has no 'test' split \(it has: train, validation\)"):
        read_examples(source, "test")


def test_csv_lines_count_quoted_newlines(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('prompt,completion\n"a\nb",uno\n"c",\n', encoding="utf-8")
    examples = read_examples(str(path))
    assert [e["where"] for e in examples] == [f"{path}:2", f"{path}:4"] and examples[1]["completion"] == ""


def fit_on(tmp_path, train_file: str):
    return cli_main(
        [
            "fit",
            "--config",
            "configs/tiny/sums.yaml",
            "--config",
            "configs/debug.yaml",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.enable_progress_bar",
            "false",
            "--data.init_args.train_file",
            train_file,
        ]
    )


@pytest.mark.parametrize("source", [*RECORDS, "csv", "parquet", "saved"])
def test_fit_runs_on_a_train_file_in_each_format(tmp_path, one_thread, source):
    """`python -m lit fit --config configs/tiny/sums.yaml --config configs/debug.yaml
    --data.init_args.train_file F`."""
    if source in RECORDS:
        train = write_jsonl(tmp_path / f"{source}.jsonl", *[RECORDS[source]] * 8)
    else:  # conversations with a system turn, in another kind of file
        train = write_source(tmp_path, source, [{"messages": TURNS[1:]}] * 8)
    cli = fit_on(tmp_path, train)
    assert cli.trainer.state.finished and cli.trainer.global_step == 1
    item = cli.datamodule.datasets["train"][0]
    trained = cli.datamodule.tokenizer.decode([t for t in item["labels"] if t != -100])
    assert trained.endswith("nueve más nueve más dos</s>")


def test_fit_on_a_record_that_fits_no_format_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    from lit.cli import main

    train = write_jsonl(tmp_path / "bad.jsonl", RECORDS["alpaca"], {"question": "20 es igual a"})
    argv = [
        "lit",
        "fit",
        "--config",
        "configs/tiny/sums.yaml",
        "--config",
        "configs/debug.yaml",
        "--data.init_args.train_file",
        train,
        "--trainer.default_root_dir",
        str(tmp_path),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    assert str(stop.value.code) == (
        f"lit: error: {train}:2: no 'instruction' (keys: ['question']) (the file is in the alpaca format, "
        "read from its first record)"
    )
