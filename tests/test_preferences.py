"""Preference data: bad records are one line naming file and record; pairs render as SFT; truncation."""

import json

import pytest

from datamodules.preferences import PreferenceDataModule
from datamodules.records import DataError
from datamodules.sums import SumsDataModule
from tests.helpers import TINY_MISTRAL

GOOD = {"prompt": "12 es igual a", "chosen": "diez más dos", "rejected": "cinco"}
TURNS = {
    "prompt": [{"role": "user", "content": "12 es igual a"}],
    "chosen": [{"role": "assistant", "content": "diez más dos"}],
    "rejected": [{"role": "assistant", "content": "cinco"}],
}


def read(path, **kwargs) -> PreferenceDataModule:
    data = PreferenceDataModule(tokenizer=TINY_MISTRAL, train_file=str(path), **kwargs)
    data.setup("fit")
    return data


def jsonl(tmp_path, *records) -> str:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"prompt": "3 es igual a", "chosen": "tres"}, "no 'rejected': a preference record has"),
        ({"prompt": "3 es igual a", "chosen": "tres", "rejected": None}, "no 'rejected'"),
        ({"prompt": "3 es igual a", "chosen": "tres", "rejected": " tres "}, "the same response"),
        ({"prompt": "3 es igual a", "chosen": "  ", "rejected": "dos"}, "'chosen' is empty"),
        (
            {"prompt": "3 es igual a", "chosen": {"a": 1}, "rejected": "dos"},
            "'chosen' is {\"a\": 1}, not text",
        ),
        ({**TURNS, "chosen": [{"role": "user", "content": "x"}]}, "'chosen' must be one assistant turn"),
        ({**TURNS, "prompt": [{"role": "assistant", "content": "x"}]}, "starts with an assistant turn"),
    ],
)
def test_a_bad_record_is_one_line_naming_file_and_line(bad, message, tmp_path):
    path = jsonl(tmp_path, GOOD, bad)
    with pytest.raises(DataError) as error:
        read(path)
    text = str(error.value)
    assert text.startswith(f"{path}:2: ") and message in text and "\n" not in text


def test_json_arrays_and_csv_name_their_record_too(tmp_path):
    array = tmp_path / "pairs.json"
    array.write_text(json.dumps([GOOD, {**GOOD, "rejected": GOOD["chosen"]}]), encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{array}\[1\]: 'chosen' and 'rejected' are the same"):
        read(array)
    table = tmp_path / "pairs.csv"
    table.write_text(
        'prompt,chosen,rejected\n"3 es igual a",tres,dos\n"4 es igual a",,dos\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match=rf"^{table}:3: 'chosen' is empty"):
        read(table)


def test_a_prompt_that_renders_differently_before_each_response_is_an_error(tmp_path):
    """A chat template that renders the prompt by the answer after it cannot share one prompt."""
    template = (
        "{% for m in messages %}{% if m.role == 'user' %}[{{ messages[-1].content[:1] }}] {{ m.content }}"
        "{% else %} {{ m.content }}</s>{% endif %}{% endfor %}{% if add_generation_prompt %} {% endif %}"
    )
    path = jsonl(tmp_path, TURNS)
    with pytest.raises(DataError) as error:
        read(path, chat_template=template)
    text = str(error.value)
    assert text.startswith(f"{path}:1: the chat template renders the conversation") and "\n" not in text


def test_a_pair_too_long_to_tell_apart_says_what_was_kept(tmp_path):
    shared = " más ".join(["uno"] * 30)
    path = jsonl(
        tmp_path, GOOD, {"prompt": "30 es igual a", "chosen": shared + " más dos", "rejected": shared}
    )
    with pytest.raises(DataError) as error:
        read(path, max_length=40)
    text = str(error.value)
    assert text.startswith(f"{path}:2: with max_length=40 the pair keeps the prompt's last")
    assert "raise data.max_length" in text and "\n" not in text


def test_pairs_render_as_the_tasks_sft_examples_and_long_ones_keep_prompt_end_and_response_start(tmp_path):
    """The chosen side of a pair is token for token the task's SFT example of the same prompt and completion;
    a pair over max_length keeps the prompt's last tokens and the responses' first."""
    task = SumsDataModule(tokenizer=TINY_MISTRAL, num_examples=4, num_val_examples=4, num_test_examples=4)
    long_prompt = "1 más 1 más 1 más 1 más 1 más 1 más 1 más 1 más 1 más 1 es igual a"
    path = jsonl(tmp_path, GOOD, {"prompt": long_prompt, "chosen": "diez", "rejected": "nueve más dos"})
    data = read(path, task=task, max_length=24)
    task.ready_tokenizer()
    sft = task.tokenize({"prompt": GOOD["prompt"], "completion": GOOD["chosen"]})
    first, second = data.pairs
    assert first["chosen_ids"] == sft["input_ids"] and first["chosen_labels"] == sft["labels"]
    assert not first["truncated"] and second["truncated"]
    prompt_ids, rejected_ids = task.encode_pair(long_prompt, "nueve más dos")
    kept = sum(label == -100 for label in second["rejected_labels"])
    assert len(second["rejected_ids"]) <= 24 and kept >= 24 // 2
    assert second["rejected_ids"][:kept] == prompt_ids[-kept:]  # the prompt's end
    assert second["rejected_ids"][kept:] == rejected_ids[: len(second["rejected_ids"]) - kept]  # the start
    batch = data.collate(data.pairs)
    assert batch["chosen_rows"] == 2 and batch["input_ids"].shape[0] == 4  # [chosen; rejected]
    assert data.task.eval_sets == task.task.eval_sets  # evaluation is the task's


def test_a_missing_preference_file_says_how_to_write_one(tmp_path):
    missing = tmp_path / "pairs.jsonl"
    with pytest.raises(DataError, match=r"does not exist: write one .* `python -m lit data preferences"):
        read(missing)
