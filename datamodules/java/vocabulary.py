"""Which words the Java instruction task trains on and which it holds out, in every spelling a model reads or
writes: identifier words (`words.py`), accented message words (`messages.py`) split by the identifier word
their
method name writes, and the words every template writes (training reads those, so none may be held out)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from datamodules.java.families import FAMILIES
from datamodules.java.messages import load_accented_words, render_message, split_accented, to_ascii
from datamodules.java.phrasings import GROUPS, templates
from datamodules.java.words import (
    ENGLISH,
    HELD_OUT_WORDS_EN,
    HELD_OUT_WORDS_ES,
    SPANISH,
    TRAIN_WORDS_EN,
    TRAIN_WORDS_ES,
    load_word_list,
    pseudo_words,
)
from datamodules.java.words import near_words as make_near_words  # `near_words` is also an argument name
from datamodules.overlap import words_as_read


def template_words() -> set[str]:
    """The words instructions and methods write whatever words they draw (`overlap.words_as_read`): every
    family's and the print messages' wordings, trained and held out, in both languages. No held-out word
    may be one: training reads the trained wordings, and a held-out wording's words must not be the
    held-out words a set is scored on."""
    stand_ins = ["qxa", "qxb", "qxc"]  # drawn words no template holds
    texts = []
    for family, (count, render) in FAMILIES.items():
        for lang in ("en", "es"):
            slots, code = render(stand_ins[:count], lang)
            texts += [code] + [t.format(**slots) for group in GROUPS for t in templates(family, lang, group)]
            texts += render_message(stand_ins[:2], lang, random.Random(0))
    return set().union(*map(words_as_read, texts)) - set(stand_ins)


# Accented message words split by the identifier word their method name writes ("limón" where "limon" is):
# the task's held-out vocabulary, in every spelling a model reads or writes (tests/test_java_vocabulary.py).
TRAIN_ACCENTED, HELD_OUT_ACCENTED = split_accented(
    load_accented_words(),
    trained=set(TRAIN_WORDS_EN + TRAIN_WORDS_ES) | template_words(),
    held_out=set(HELD_OUT_WORDS_EN + HELD_OUT_WORDS_ES),
)
HELD_OUT_VOCABULARY = set(HELD_OUT_WORDS_EN + HELD_OUT_WORDS_ES) | {
    to_ascii(w).lower() for w in HELD_OUT_ACCENTED
}


def word_vocabulary(
    held_out: bool = False, extra_words: int = 0, word_lists: Sequence[str] = (), near_words: int = 0
) -> list[str]:
    """The words instructions draw from: the held-out lists, or the training lists plus `word_lists`
    (held-out words dropped, so held-out stays unseen), `extra_words` made-up words (`pseudo_words`)
    and `near_words` made-up words one edit away from the real ones (`near_words`)."""
    en, es = (HELD_OUT_WORDS_EN, HELD_OUT_WORDS_ES) if held_out else (TRAIN_WORDS_EN, TRAIN_WORDS_ES)
    vocabulary = en + es  # mixing both languages' words in either language's instruction
    if held_out:
        return vocabulary
    listed = [w for source in word_lists for w in load_word_list(source)]
    known, unseen = set(vocabulary), HELD_OUT_VOCABULARY  # held-out in any spelling: "limon" is "limón"
    real = vocabulary + sorted({w for w in listed if w not in known and w not in unseen})
    made_up = pseudo_words(extra_words) if extra_words else []
    if near_words:
        reserved = set(real) | set(made_up) | unseen | set(ENGLISH) | set(SPANISH)
        made_up += make_near_words(real, near_words, reserved)
    return real + sorted({w for w in made_up if w not in set(real) and w not in unseen})
