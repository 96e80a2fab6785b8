"""Held-out wordings: every family asked in words no training instruction uses, for the same method."""

import random
import re

from datamodules.java import JavaInstructDataModule
from datamodules.java.families import FAMILIES, make_example
from datamodules.java.phrasings import GROUPS, PHRASINGS, instance_of, templates, wording

LANGUAGES = ("en", "es")


def test_every_family_has_training_wordings_and_one_of_its_own_for_val_and_for_test():
    assert set(PHRASINGS) == set(FAMILIES)
    for family, (count, render) in FAMILIES.items():
        for lang in LANGUAGES:
            assert len(templates(family, lang, "train")) >= 3
            assert len(templates(family, lang, "val")) == len(templates(family, lang, "test")) == 1
            slots = set(render(["qxa", "qxb"][:count], lang)[0])
            for group in GROUPS:  # each wording fills exactly the family's slots
                for template in templates(family, lang, group):
                    assert set(re.findall(r"\{(\w+)\}", template)) == slots, template


def test_a_held_out_wording_is_no_training_wording_and_says_something_training_never_does():
    trained = [t for f in FAMILIES for lang in LANGUAGES for t in templates(f, lang, "train")]
    trained_wordings = {wording(t) for t in trained}
    held = [t for f in FAMILIES for lang in LANGUAGES for g in ("val", "test") for t in templates(f, lang, g)]
    assert len({wording(t) for t in held}) == len(held)  # val and test differ too
    for family in FAMILIES:
        for lang in LANGUAGES:
            family_words = {w for t in templates(family, lang, "train") for w in wording(t).split()}
            for group in ("val", "test"):
                (template,) = templates(family, lang, group)
                assert wording(template) not in trained_wordings, template
                assert set(wording(template).split()) - family_words, template  # a new word, not a new order
                assert not any(
                    instance_of("// " + t.replace("{", "").replace("}", ""), template) for t in trained
                )


def test_the_method_is_the_same_whatever_the_wording():
    rng = random.Random(0)
    for family, (count, _) in FAMILIES.items():
        for lang in LANGUAGES:
            words = ["apple", "river"][:count]
            examples = [make_example(family, words, lang, rng, group) for group in GROUPS for _ in range(5)]
            assert len({e["completion"] for e in examples}) == 1
            assert len({e["prompt"] for e in examples}) >= 4  # three training wordings, val's, test's


def test_the_phrasing_sets_ask_held_out_wordings_of_every_family():
    data = JavaInstructDataModule(num_examples=100, message_fraction=0.2)
    assert data.task.eval_sets == {
        "validate": ["val", "val_seen", "val_phrasing"],
        "test": ["test", "test_phrasing"],
    }
    for split, group in (("val_phrasing", "val"), ("test_phrasing", "test")):
        examples = data.generate_examples(split)
        assert len(examples) == 100 == len({e["prompt"] for e in examples})
        asked = set()
        for example in examples:
            fits = [
                f
                for f in FAMILIES
                for lang in LANGUAGES
                if instance_of(example["prompt"], templates(f, lang, group)[0])
            ]
            assert fits, example["prompt"]  # worded as a held-out template of the set's own group
            asked.add(fits[0])
        assert asked == set(FAMILIES)
    prompts = {
        split: {e["prompt"] for e in data.generate_examples(split)} for split in ("val", "val_phrasing")
    }
    assert prompts["val"].isdisjoint(prompts["val_phrasing"])
    assert JavaInstructDataModule(num_phrasing_examples=0).task.eval_sets["test"] == ["test"]
