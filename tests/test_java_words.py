"""The Java task's words: made-up, near, listed and respelled words, never a held-out one in training."""

import re

import pytest

from datamodules.java.families import FAMILIES
from datamodules.java.instruct import JavaInstructDataModule, generate_java_instructions
from datamodules.java.phrasings import templates
from datamodules.java.words import HELD_OUT_WORDS_EN, HELD_OUT_WORDS_ES, TRAIN_WORDS_EN, TRAIN_WORDS_ES
from tests.helpers import ROOT


def test_pseudo_words_are_new_valid_identifiers():
    from datamodules.java.words import ENGLISH, JAVA_KEYWORDS, SPANISH, pseudo_words

    words = pseudo_words(1000)
    assert len(set(words)) == 1000 and words == pseudo_words(1000)
    assert not set(words) & (JAVA_KEYWORDS | set(ENGLISH) | set(SPANISH))
    assert all(w.isalpha() and w.islower() for w in words)


def test_near_words_are_one_letter_from_a_real_word_and_never_real_or_held_out():
    from datamodules.java.words import ENGLISH, JAVA_KEYWORDS, SPANISH, near_words

    real = TRAIN_WORDS_EN + TRAIN_WORDS_ES
    reserved = set(ENGLISH) | set(SPANISH)
    words = near_words(real, 300, reserved)
    assert len(words) == 300 and near_words(real, 300, reserved) == words  # seeded
    assert not set(words) & (reserved | JAVA_KEYWORDS)
    for word in words:  # same length, same first letter, exactly one other letter
        close = [
            r
            for r in real
            if len(r) == len(word) and r[0] == word[0] and sum(a != b for a, b in zip(r, word)) == 1
        ]
        assert close, word
    examples = generate_java_instructions(2000, seed=0, near_words=300)
    assert {w for e in examples for w in re.findall(r"[a-z]+", e["prompt"])} & set(words)


def test_word_lists_never_bring_a_held_out_word_into_training(tmp_path):
    import re

    from datamodules.java.words import load_word_list
    from modules.errors import UserInputError

    held_out = set(HELD_OUT_WORDS_EN + HELD_OUT_WORDS_ES)
    own = tmp_path / "words.txt"
    own.write_text(
        "# mine\n" + "\n".join(sorted(held_out)) + "\nzorblat\n"
    )  # a list that holds every held-out word
    examples = generate_java_instructions(
        5000, seed=0, extra_words=1000, word_lists=["english", "spanish", str(own)], near_words=2000
    )
    words = {w for e in examples for w in re.findall(r"[a-z]+", e["prompt"])}
    assert not words & held_out
    assert len(words) > 2000  # the lists did widen the vocabulary
    assert len(load_word_list("english")) == 2140 and len(load_word_list("spanish")) == 926
    bad = tmp_path / "bad.txt"
    bad.write_text("apple\nclass\n")
    with pytest.raises(UserInputError, match=r"bad.txt:2: 'class'"):
        load_word_list(str(bad))


def test_respelled_words_are_those_a_capital_splits_differently_and_training_can_favour_them():
    from transformers import AutoTokenizer

    from datamodules.java.vocabulary import word_vocabulary
    from datamodules.java.words import respelled_words
    from tests.helpers import TINY_MISTRAL

    gpt2 = AutoTokenizer.from_pretrained(str(ROOT / "tests" / "assets" / "tiny-gpt2"))
    words = ["pepper", "river", "engine", "cobalt", "brisa"]
    # " engine" is "en" "g" "in" "e", "Engine" inside "productEngine" is "E" "n" "g" "in" "e";
    # " pepper" and "Pepper" split into the same pieces in this tiny vocabulary.
    assert respelled_words(words, gpt2) == ["engine", "cobalt", "brisa"]
    assert respelled_words(words, AutoTokenizer.from_pretrained(TINY_MISTRAL)) == []  # letter by letter

    vocabulary = word_vocabulary(extra_words=1000)
    focus = set(respelled_words(vocabulary, gpt2))
    assert 0.1 < len(focus) / len(vocabulary) < 0.5

    rendered = [  # every training wording of every family
        template.format(**render(["qqq", "zzz"][:n], lang)[0])
        for f, (n, render) in FAMILIES.items()
        for lang in ("en", "es")
        for template in templates(f, lang, "train")
    ]
    template = {w for prompt in rendered for w in re.findall(r"[a-z]+", prompt.lower())}

    def share(examples) -> float:  # of the drawn words (the prompt's words but the template's) in `focus`
        drawn = [w for e in examples for w in re.findall(r"[a-z]+", e["prompt"].lower()) if w not in template]
        return sum(w in focus for w in drawn) / len(drawn)

    uniform = generate_java_instructions(2000, seed=0, extra_words=1000)
    favoured = generate_java_instructions(
        2000, seed=0, extra_words=1000, respelled=focus.__contains__, respelled_fraction=0.8
    )
    assert abs(share(uniform) - len(focus) / len(vocabulary)) < 0.1
    assert share(favoured) > 0.8 + 0.2 * share(uniform) - 0.1  # 80% from the focus, the rest uniform
    assert len({e["prompt"] for e in favoured}) == 2000
    with pytest.raises(ValueError, match="respelled_fraction"):
        JavaInstructDataModule(respelled_fraction=1.5)
    with pytest.raises(ValueError, match="needs at least 2 respelled words in the vocabulary, found 1"):
        generate_java_instructions(10, seed=0, respelled={"apple"}.__contains__, respelled_fraction=1.0)
