"""Conversations through the tokenizer's chat template, with the loss on the assistant turns.

Which tokens an assistant turn adds is read from the template itself, with no `{% generation %}`
markers: the conversation up to the turn is rendered with the generation prompt
(`add_generation_prompt=True`: what the model is given at inference), then with the turn, and the
turn's trained text is what lies between the two renderings, up to and including its end-of-turn
token (whitespace the template writes after that token is not trained). That works for any
template that renders a conversation's beginning the same way whatever follows; one that does not
(that moves the system prompt into the last user turn, or drops earlier turns' reasoning) is an
error that says so, as is one whose generation prompt lacks the header its assistant turns carry
(trained text the model would never be given at inference).

The whole conversation is tokenized once; the trained spans are mapped to tokens through the
tokenizer's character offsets. Where a token would straddle a span's edge, the text is tokenized
in pieces cut there, so the prompt's tokens are those generation sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from datamodules.records import DataError
from modules.loss import IGNORE_INDEX

AssistantTurns = Literal["all", "last"]


class TemplateError(DataError):
    """A chat template that cannot render a conversation, or renders it in a way lit cannot train on."""


def render(tokenizer, messages: list[dict], generation_prompt: bool, template: str | None = None) -> str:
    """The conversation as text, special tokens included."""
    try:
        return tokenizer.apply_chat_template(
            messages, chat_template=template, tokenize=False, add_generation_prompt=generation_prompt
        )
    except Exception as error:  # jinja's TemplateError, `raise_exception` in a template, ...
        raise TemplateError(f"the chat template cannot render this conversation: {error}") from None


def _diverges(prefix: str, whole: str) -> str:
    at = next((i for i, (a, b) in enumerate(zip(prefix, whole)) if a != b), min(len(prefix), len(whole)))
    return f"at character {at}: {prefix[max(0, at - 20) : at + 20]!r} vs {whole[max(0, at - 20) : at + 20]!r}"


def assistant_spans(
    tokenizer, messages: list[dict], template: str | None = None, last_only: bool = False
) -> tuple[str, list[tuple[int, int]]]:
    """The whole rendering and, for each assistant turn (or the last only), the characters it adds
    (start, end): its content and its end-of-turn token, without the header the generation prompt
    already gave."""
    whole = render(tokenizer, messages, False, template)
    spans = []
    assistant = [i for i, turn in enumerate(messages) if turn["role"] == "assistant"]
    for index in assistant[-1:] if last_only else assistant:
        turn, number = messages[index], index + 1
        before = render(tokenizer, messages[:index], True, template)
        after = render(tokenizer, messages[: index + 1], False, template)
        for name, prefix in (("with the generation prompt", before), ("with that turn", after)):
            if not whole.startswith(prefix):
                raise TemplateError(
                    f"the chat template renders the conversation up to turn {number} {name} differently "
                    f"from the whole conversation ({_diverges(prefix, whole)}): it rewrites earlier turns "
                    "(e.g. moves the system prompt, drops reasoning), so the tokens each assistant turn "
                    "adds are not defined; use a template that renders each turn once"
                    + (
                        ""
                        if last_only or index == assistant[-1]
                        else ", or train on the last turn only (data.init_args.assistant_turns: last)"
                    )
                )
        added = whole[len(before) : len(after)]
        content = turn["content"].strip()
        at = added.find(content) if content else len(added) - len(added.lstrip())
        if at < 0:
            raise TemplateError(
                f"the chat template does not write assistant turn {number}'s content as given "
                f"(it renders {added[:60]!r}); lit cannot tell which tokens are the answer"
            )
        if added[:at].strip():
            raise TemplateError(
                "the chat template's generation prompt (add_generation_prompt=True) lacks "
                f"{added[:at].strip()!r}, "
                f"which its assistant turns start with: that text would be trained but never given to the "
                "model at inference; fix the template's add_generation_prompt branch"
            )
        spans.append((len(before), len(before) + len(added.rstrip())))
    return whole, spans


def _encode_with_offsets(tokenizer, text: str, cuts: list[int]) -> tuple[list[int], list[tuple[int, int]]]:
    ids, offsets, edges = [], [], [0, *cuts, len(text)]
    for start, end in zip(edges, edges[1:]):
        if start == end:
            continue
        try:
            piece = tokenizer(text[start:end], add_special_tokens=False, return_offsets_mapping=True)
        except NotImplementedError:  # transformers' Python ("slow") tokenizers give no offsets
            raise TemplateError(
                f"tokenizer {type(tokenizer).__name__} gives no character offsets, which lit reads the "
                "trained tokens of each assistant turn from; load its fast (tokenizers) version"
            ) from None
        ids += piece["input_ids"]
        offsets += [(a + start, b + start) for a, b in piece["offset_mapping"]]
    return ids, offsets


def encode_at_edges(tokenizer, text: str, edges: list[int]) -> tuple[list[int], list[int]]:
    """Token ids of `text` and, for each character position in `edges`, the number of tokens before
    it; the text is cut into separately tokenized pieces where a token would straddle an edge."""
    ids, offsets = _encode_with_offsets(tokenizer, text, [])
    ends = {end for _, end in offsets}
    straddled = sorted({e for e in edges if 0 < e < len(text) and e not in ends})
    if straddled:
        ids, offsets = _encode_with_offsets(tokenizer, text, straddled)
    counts = [sum(1 for _, end in offsets if end <= edge) for edge in edges]
    return ids, counts


def tokenize_conversation(
    tokenizer, messages: list[dict], turns: AssistantTurns = "all", template: str | None = None
) -> dict:
    """Token ids, labels (the trained assistant turns' tokens, -100 elsewhere) and the generation prompt.

    A conversation that ends with an assistant turn is cut after it (the template's trailing
    whitespace is never trained), and its generation prompt is everything before that turn's
    answer: the reference is that turn. One that ends with a user turn is all prompt (`predict`).

    Returns:
        dict with `input_ids`, `labels`, `spans` (token ranges trained, one per trained turn),
        `prompt_ids` and `context` (the turns before the one to generate).
    """
    if messages[-1]["role"] != "assistant":  # nothing to compare with: continue the conversation
        prompt_ids = encode_at_edges(tokenizer, render(tokenizer, messages, True, template), [])[0]
        return {
            "input_ids": prompt_ids,
            "labels": [IGNORE_INDEX] * len(prompt_ids),
            "spans": [],
            "prompt_ids": prompt_ids,
            "context": messages,
        }
    whole, spans = assistant_spans(tokenizer, messages, template, last_only=turns == "last")
    ids, counts = encode_at_edges(tokenizer, whole, [edge for span in spans for edge in span])
    token_spans = [(counts[2 * i], counts[2 * i + 1]) for i in range(len(spans))]
    end = token_spans[-1][1]
    labels = [IGNORE_INDEX] * end
    for start, stop in token_spans:
        labels[start:stop] = ids[start:stop]
    return {
        "input_ids": ids[:end],
        "labels": labels,
        "spans": token_spans,
        "prompt_ids": ids[: token_spans[-1][0]],
        "context": messages[: len(messages) - 1],
        "system_trained": system_trained(tokenizer, messages, labels, token_spans),
    }


def system_trained(tokenizer, messages: list[dict], labels: list[int], spans: list[tuple[int, int]]) -> bool:
    """Whether the trained tokens write the system prompt (which no assistant turn quotes itself)."""
    system = messages[0]["content"].strip() if messages[0]["role"] == "system" else ""
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    if len(system) < 8 or any(system in answer for answer in answers):
        return False  # too short to tell apart, or the answers themselves say it
    return any(system in tokenizer.decode(labels[a:b]) for a, b in spans)


def conversation_item(
    tokenizer,
    example: dict,
    turns: AssistantTurns,
    template: str | None,
    max_length: int,
    reference: Callable[[dict], str | None],
) -> dict:
    """A conversation example as the data module's items: token ids and labels cut at `max_length`,
    the generation prompt, the turns before the answer to generate, and the reference (`reference`,
    the task's hook, given the last user turn as the prompt and the last answer as the completion)."""
    where, messages = example.get("where", "generated"), example["messages"]
    try:
        out = tokenize_conversation(tokenizer, messages, turns, template)
    except TemplateError as error:
        raise TemplateError(f"{where}: {error}") from None
    answer = messages[-1]["content"] if messages[-1]["role"] == "assistant" else None
    user = next((m["content"] for m in reversed(out["context"]) if m["role"] == "user"), "")
    shown = {"prompt": user, "completion": answer, "reference": example.get("reference")}
    return {
        "input_ids": out["input_ids"][:max_length],
        "labels": out["labels"][:max_length],
        "prompt_ids": out["prompt_ids"],
        "prompt": user,  # what logs and predictions show as the prompt: the last user turn
        "messages": out["context"],
        "system_trained": out.get("system_trained", False),
        "reference": reference(shown) if answer is not None or shown["reference"] else None,
        "truncated": len(out["input_ids"]) > max_length,
        "length": len(out["input_ids"]),
        "where": where,
        "spans": out["spans"],
    }
