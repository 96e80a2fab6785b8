"""Tokenizers with the chat templates of three model families, built here from template strings (no hub).

Each is a small byte-level BPE tokenizer (any text encodes) with its family's special tokens and a
template that has no `{% generation %}` markers: SmolLM2's ChatML (the embedded model's template,
verbatim: a default system prompt when none is given), Mistral's `[INST]` (the system prompt joins
the first user turn; the generation prompt adds nothing) and a Llama-3-style header template
(`<|start_header_id|>role<|end_header_id|>`, turns ending with `<|eot_id|>`, content trimmed).
Broken variants check that the pre-flight refuses what it cannot train on.
"""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{% if loop.index0 == 1 and messages[0]['role'] == 'system' %}"
    "{{ '[INST] ' + messages[0]['content'] + '\n\n' + message['content'] + ' [/INST]' }}"
    "{% else %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor "
    "%}"
)
LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + "
    "'<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% "
    "endif %}"
)
# Broken on purpose: the system prompt moves to the last user turn (as Mistral v0.3's template does),
# so a conversation's beginning renders differently once it goes on.
MISTRAL_SYSTEM_LAST = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{% if loop.last and messages[0]['role'] == 'system' %}"
    "{{ '[INST] ' + messages[0]['content'] + '\n\n' + message['content'] + ' [/INST]' }}"
    "{% else %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor "
    "%}"
)
# Broken on purpose: no add_generation_prompt branch, so the header "<|im_start|>assistant\n" would be
# trained.
CHATML_NO_GENERATION_PROMPT = CHATML.split("{% if add_generation_prompt %}")[0]
# ChatML with `{% generation %}` markers, for comparing with transformers' own assistant mask.
CHATML_MARKED = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration "
    "%}{{ '\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

FAMILIES = {
    # name: (template, special tokens, bos, eos)
    "chatml": (CHATML, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], "<|im_start|>", "<|im_end|>"),
    "mistral": (MISTRAL, ["<unk>", "<s>", "</s>"], "<s>", "</s>"),
    "llama3": (
        LLAMA3,
        ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        "<|begin_of_text|>",
        "<|eot_id|>",
    ),
}
CORPUS = [
    "You are a calculator. Answer with words. What is 12? nueve más tres. And 20? nueve más nueve más dos.",
    "system user assistant Hello, how are you? I am fine, thank you. 33 es igual a cinco más tres más ocho",
    "Escribe cada número como una suma de números del uno al nueve, en palabras.",
]


def build_tokenizer(
    folder: Path, family: str, template: str | None = None, eos: str | None = None, with_model: bool = False
) -> str:
    """Save a tokenizer of `family` (optionally with another template or EOS) in `folder`, with a
    tiny Llama-architecture config (and random weights: `with_model`) so it is a model source; its path."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    family_template, specials, bos, family_eos = FAMILIES[family]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=bos, eos_token=eos or family_eos)
    fast.chat_template = template or family_template
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    if with_model:
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(folder)
    else:
        config.save_pretrained(folder)
    return str(folder)
