"""Builds the tiny random-init models under tests/assets (run once; the output is committed).

    python tests/assets/build_tiny_models.py

tiny-gpt2: GPT-2 architecture, 2 layers, hidden 64, a byte-level BPE tokenizer trained on the Java
instruction task's text, `<|endoftext|>` as BOS and EOS like GPT-2's.

tiny-mistral: Mistral architecture, 2 layers, hidden 64, a byte-level BPE tokenizer trained on the
sums task's text with a Mistral-style chat template and no pad token (so pad falls back to EOS).
"""

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
)

HERE = Path(__file__).parent
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ ' ' + message['content'] + eos_token }}"
    "{% endif %}{% endfor %}"
)


def sums_corpus() -> list[str]:
    import sys

    sys.path.insert(0, str(HERE.parents[1]))
    from datamodules.sums import generate_sums, to_mistral_text

    return [to_mistral_text(e)["text"] for e in generate_sums(2000, seed=123)]


def java_corpus() -> list[str]:
    import sys

    sys.path.insert(0, str(HERE.parents[1]))
    from datamodules.java import generate_java_instructions

    return [e["prompt"] + "\n" + e["completion"] for e in generate_java_instructions(3000, seed=123)]


def byte_level_tokenizer(corpus: list[str], vocab_size: int, specials: list[str]) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(corpus, trainer)
    return tokenizer


def build_tiny_mistral() -> None:
    out = HERE / "tiny-mistral"
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=byte_level_tokenizer(sums_corpus(), 320, ["<unk>", "<s>", "</s>"]),
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
    )
    tokenizer.chat_template = MISTRAL_TEMPLATE
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = MistralForCausalLM(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    print(f"wrote {out}: {sum(p.numel() for p in model.parameters())} parameters, vocab {len(tokenizer)}")


def build_tiny_gpt2() -> None:
    out = HERE / "tiny-gpt2"
    eos = "<|endoftext|>"
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=byte_level_tokenizer(java_corpus(), 512, [eos]),
        bos_token=eos,
        eos_token=eos,
        unk_token=eos,
    )
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=64,
        n_layer=2,
        n_head=4,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    print(f"wrote {out}: {sum(p.numel() for p in model.parameters())} parameters, vocab {len(tokenizer)}")


if __name__ == "__main__":
    build_tiny_mistral()
    build_tiny_gpt2()
