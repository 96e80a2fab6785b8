"""Conversations: the loss on the assistant turns, read from three families' chat templates (none with
generation markers), the pre-flight's refusals, and `predict` continuing a conversation."""

import json

import pytest

from datamodules.chat import encode_at_edges, tokenize_conversation
from datamodules.prompt_completion import PromptCompletionDataModule
from datamodules.records import DataError
from modules.tokenizer import load_tokenizer
from tests.helpers import TINY_GPT2, write_jsonl
from tests.helpers.chat_tokenizers import (
    CHATML_MARKED,
    CHATML_NO_GENERATION_PROMPT,
    FAMILIES,
    MISTRAL_SYSTEM_LAST,
    build_tokenizer,
)

SYSTEM = "You are a calculator that answers in words."
CONVERSATION = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "What is 12?"},
    {"role": "assistant", "content": "nueve más tres"},
    {"role": "user", "content": "And 20?"},
    {"role": "assistant", "content": "nueve más nueve más dos"},
]
# What each family's template writes around an answer: its end-of-turn token, and for Mistral the space
# before.
ANSWER_FORM = {"chatml": "{}<|im_end|>", "mistral": " {}</s>", "llama3": "{}<|eot_id|>"}


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat_tokenizers")
    return {family: build_tokenizer(folder / family, family) for family in FAMILIES}


def chat_data(tokenizer: str, tmp_path, conversations, **kwargs) -> PromptCompletionDataModule:
    train = write_jsonl(tmp_path / "train.jsonl", *({"messages": c} for c in conversations))
    return PromptCompletionDataModule(
        tokenizer=tokenizer, train_file=train, val_file=train, batch_size=2, **kwargs
    )


def trained_texts(item: dict, tokenizer) -> list[str]:
    return [tokenizer.decode(item["labels"][a:b]) for a, b in item["spans"]]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_assistant_turn_trains_with_its_end_of_turn_and_nothing_else_does(tokenizers, tmp_path, family):
    data = chat_data(tokenizers[family], tmp_path, [CONVERSATION, CONVERSATION[1:3]])
    data.setup("fit")  # the pre-flight passes
    tok, [item, single] = data.tokenizer, data.datasets["train"]
    form = ANSWER_FORM[family]
    assert trained_texts(item, tok) == [form.format("nueve más tres"), form.format("nueve más nueve más dos")]
    assert tok.decode([t for t in item["labels"] if t != -100]) == "".join(
        trained_texts(item, tok)
    )  # only the spans
    assert item["input_ids"][-1] == tok.eos_token_id == item["labels"][-1]  # ends on the trained end-of-turn
    masked = tok.decode([t for t, label in zip(item["input_ids"], item["labels"]) if label == -100])
    assert (
        SYSTEM in masked and "What is 12?" in masked and "And 20?" in masked
    )  # system and user turns: context
    # Generation is given everything before the last answer: the same tokens as in training.
    assert item["prompt_ids"] == item["input_ids"][: item["spans"][-1][0]]
    assert tok.decode(item["prompt_ids"]).endswith(
        {
            "chatml": "<|im_start|>assistant\n",
            "mistral": "And 20? [/INST]",
            "llama3": "<|start_header_id|>assistant<|end_header_id|>\n\n",
        }[family]
    )
    assert item["reference"] == "nueve más nueve más dos" and item["prompt"] == "And 20?"
    assert trained_texts(single, tok) == [form.format("nueve más tres")]


def test_only_the_last_turn_trains_when_asked(tokenizers, tmp_path):
    data = chat_data(tokenizers["llama3"], tmp_path, [CONVERSATION], assistant_turns="last")
    data.setup("fit")
    item = data.datasets["train"][0]
    assert trained_texts(item, data.tokenizer) == ["nueve más nueve más dos<|eot_id|>"]
    assert (
        data.tokenizer.decode([t for t in item["labels"] if t != -100]) == "nueve más nueve más dos<|eot_id|>"
    )


def test_the_mask_equals_transformers_generation_marker_mask(tmp_path):
    """Where a template has `{% generation %}` markers, transformers computes the assistant mask itself:
    lit's, read from prefixes of the same template without using the markers, is the same."""
    tok = load_tokenizer(build_tokenizer(tmp_path / "marked", "chatml", template=CHATML_MARKED))
    reference = tok.apply_chat_template(
        CONVERSATION, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ours = tokenize_conversation(tok, CONVERSATION)
    assert reference["input_ids"][: len(ours["input_ids"])] == ours["input_ids"]
    assert reference["assistant_masks"][: len(ours["labels"])] == [
        int(label != -100) for label in ours["labels"]
    ]
    assert sum(reference["assistant_masks"]) == sum(
        label != -100 for label in ours["labels"]
    )  # nothing left after


def test_a_template_that_rewrites_earlier_turns_is_refused_with_the_reason(tmp_path):
    tokenizer = build_tokenizer(tmp_path / "system_last", "mistral", template=MISTRAL_SYSTEM_LAST)
    data = chat_data(tokenizer, tmp_path, [CONVERSATION])
    with pytest.raises(
        DataError,
        match=r"train\.jsonl:1: the chat template renders the conversation up to turn 3 "
        r"with the generation prompt differently .* it rewrites earlier turns",
    ):
        data.setup("fit")


def test_a_generation_prompt_without_the_assistant_header_is_refused(tmp_path):
    tokenizer = build_tokenizer(tmp_path / "no_header", "chatml", template=CHATML_NO_GENERATION_PROMPT)
    with pytest.raises(
        DataError, match=r"generation prompt \(add_generation_prompt=True\) lacks '<\|im_start\|>assistant'"
    ):
        chat_data(tokenizer, tmp_path, [CONVERSATION]).setup("fit")


def test_an_end_of_turn_token_that_is_not_eos_is_refused(tmp_path):
    """Llama-3's base tokenizer: turns end with <|eot_id|>, EOS is <|end_of_text|>: generation would never
    stop."""
    tokenizer = build_tokenizer(tmp_path / "llama3_base", "llama3", eos="<|end_of_text|>")
    with pytest.raises(
        DataError,
        match=r"train\.jsonl:1: trained assistant turn 1 of the train conversation ends with "
        r"'.*<\|eot_id\|>', not with the EOS token '<\|end_of_text\|>'",
    ):
        chat_data(tokenizer, tmp_path, [CONVERSATION]).setup("fit")


def test_a_system_prompt_among_the_trained_tokens_is_refused(tokenizers, tmp_path):
    leaky = (  # writes the system prompt again at the end of every assistant turn
        "{% for m in messages %}{% if m['role'] == 'assistant' %}{{ m['content'] + ' (' + "
        "messages[0]['content'] + "
        "')<|im_end|>\n' }}{% else %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' "
        "}}{% endif %}"
        "{% endfor %}"
    )
    with pytest.raises(DataError, match="the system prompt is among the trained tokens"):
        chat_data(tokenizers["chatml"], tmp_path, [CONVERSATION], chat_template=leaky).setup("fit")


def test_conversations_need_a_template_and_a_config_can_give_one(tmp_path):
    with pytest.raises(DataError, match="a conversation needs a chat template, and tokenizer .* has none"):
        chat_data(TINY_GPT2, tmp_path, [CONVERSATION]).setup("fit")
    plain = (  # a template for a tokenizer without one (GPT-2's EOS ends each answer)
        "{% for m in messages %}{{ m['role'] + ': ' + m['content'] }}{% if m['role'] == 'assistant' %}{{ "
        "eos_token }}"
        "{% endif %}{{ '\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
    )
    (tmp_path / "plain.jinja").write_text(plain, encoding="utf-8")
    data = chat_data(TINY_GPT2, tmp_path, [CONVERSATION], chat_template=str(tmp_path / "plain.jinja"))
    data.setup("fit")
    assert (
        trained_texts(data.datasets["train"][0], data.tokenizer)[-1] == "nueve más nueve más dos<|endoftext|>"
    )


def test_a_conversation_without_an_answer_cannot_train(tokenizers, tmp_path):
    with pytest.raises(
        DataError, match=r"1 of 1 train examples .*: the conversation has no assistant turn to train on"
    ):
        chat_data(tokenizers["chatml"], tmp_path, [CONVERSATION[:2]]).setup("fit")


def test_tokens_straddling_a_span_edge_are_cut_there(tokenizers):
    tok = load_tokenizer(tokenizers["chatml"])
    text = "nueve más tres"
    whole = tok(text, add_special_tokens=False)["input_ids"]
    ids, counts = encode_at_edges(tok, text, [2, len(text)])  # an edge inside "nueve"
    assert tok.decode(ids) == text and len(ids) > len(whole)
    assert tok.decode(ids[: counts[0]]) == "nu" and counts[1] == len(ids)


def test_predict_continues_a_conversation_with_an_assistant_turn(tmp_path, one_thread):
    from lit.cli import cli_main

    prompts = write_jsonl(
        tmp_path / "chat.jsonl",
        {"messages": CONVERSATION[1:4]},
        {"messages": CONVERSATION[1:3] + [{"role": "user", "content": "33 es igual a"}], "reference": "33"},
    )
    out = tmp_path / "predictions.jsonl"
    cli_main(
        [
            "predict",
            "--config",
            "configs/tiny/sums.yaml",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.enable_progress_bar",
            "false",
            "--data.init_args.predict_file",
            prompts,
            "--model.init_args.max_new_tokens",
            "4",
            "--trainer.callbacks+=lit.callbacks.JsonlPredictionWriter",
            "--trainer.callbacks.path",
            str(out),
        ]
    )
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["messages"][:-1] for r in rows] == [
        CONVERSATION[1:4],
        CONVERSATION[1:3] + [{"role": "user", "content": "33 es igual a"}],
    ]
    assert all(r["messages"][-1] == {"role": "assistant", "content": r["completion"]} for r in rows)
    assert rows[0]["prompt"] == "And 20?" and rows[1]["reference"] == "33" and "score" in rows[1]
