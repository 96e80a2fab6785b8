"""Which words train and which are held out: no held-out word reaches training in any spelling."""

import pytest

from datamodules.java.families import FAMILIES
from datamodules.java.phrasings import as_pattern, instance_of, templates
from datamodules.java.vocabulary import HELD_OUT_VOCABULARY, TRAIN_ACCENTED
from datamodules.overlap import fold, leaks, words_as_read
from lit.cli import cli_main

JAVA_CONFIGS = [
    "configs/embedded/java_instruct.yaml",
    "configs/gpt2_instruct.yaml",
    "configs/tiny/java_instruct.yaml",
]
HELD_OUT_SPLITS = ("val", "test", "val_messages", "test_messages", "val_phrasing", "test_phrasing")


@pytest.mark.parametrize("config", JAVA_CONFIGS)
def test_no_held_out_word_reaches_training_in_any_spelling(config):
    """As the config draws its data: no word of the held-out vocabulary (identifier words, and accented
    message
    words as their method names write them) is in a training prompt or method, folded to ASCII and split at
    camel case (`overlap.words_as_read`); every held-out example holds one. At 98a4026 the committed embedded
    config leaked 15 (`halcon`, `union`, `ano`, ...): the accented words' split never saw them."""
    data = cli_main(["--config", config], run=False).datamodule
    train = data.generate_examples("train")
    assert leaks(HELD_OUT_VOCABULARY, [text for e in train for text in (e["prompt"], e["completion"])]) == {}
    assert not {words_as_read(w).pop() for w in TRAIN_ACCENTED} & HELD_OUT_VOCABULARY
    for split in HELD_OUT_SPLITS:
        if data.sizes.get(split):
            for example in data.generate_examples(split):
                assert words_as_read(example["prompt"]) & HELD_OUT_VOCABULARY, example["prompt"]


@pytest.mark.parametrize("config", JAVA_CONFIGS)
def test_no_training_instruction_is_worded_as_a_held_out_phrasing(config):
    """As the config draws its data: no training prompt is a held-out template with its slots filled (in any
    accents or case), and each phrasing set asks every one of its own group's templates."""
    data = cli_main(["--config", config], run=False).datamodule
    held = {
        group: [t for f in FAMILIES for lang in ("en", "es") for t in templates(f, lang, group)]
        for group in ("val", "test")
    }
    patterns = [as_pattern(t) for group in held.values() for t in group]
    for example in data.generate_examples("train"):
        text = fold(example["prompt"].removeprefix("// ")).lower()  # as `instance_of` reads it
        assert not any(p.match(text) for p in patterns), example["prompt"]
    assert data.sizes["val_phrasing"] and data.sizes["test_phrasing"]  # every Java config scores them
    for split, group in (("val_phrasing", "val"), ("test_phrasing", "test")):
        prompts = [e["prompt"] for e in data.generate_examples(split)]
        assert all(any(instance_of(p, t) for t in held[group]) for p in prompts)
