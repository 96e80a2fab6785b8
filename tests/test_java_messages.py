"""Print instructions as people write them: accented words, punctuation, digits, mixed case."""

import random
import re

from datamodules.java import generate_java_instructions
from datamodules.java.families import FAMILIES, make_example
from datamodules.java.javac import compile_snippets
from datamodules.java.messages import (
    load_accented_words,
    method_name,
    render_message,
    split_accented,
    to_ascii,
    write_message,
)
from datamodules.java.run import printed_outputs
from datamodules.java.vocabulary import HELD_OUT_ACCENTED, TRAIN_ACCENTED
from datamodules.java.words import ENGLISH, JAVA_KEYWORDS, SPANISH, load_word_list
from tests.helpers import needs_javac


def test_names_fold_words_to_ascii_and_messages_keep_every_letter():
    assert (
        to_ascii("Vórtice") == "Vortice" and to_ascii("Straße") == "Strasse" and to_ascii("ÑANDÚ") == "NANDU"
    )
    assert to_ascii("cœur") == "coeur" and to_ascii("ørken") == "orken" and to_ascii("Ærø") == "Aero"
    assert method_name("print", "¡Hola, VÓRTICE 42!") == "printHolaVortice42"
    assert method_name("imprime", "¿(año) - niño?") == "imprimeAnoNino"
    rng = random.Random(0)
    messages = [write_message(["canción", "straße"], rng) for _ in range(300)]
    assert all(("canción" in m.lower() or "CANCIÓN" in m) for m in messages)
    assert any(m.startswith("¡") for m in messages) and any(m.startswith("¿") for m in messages)
    assert any(any(c.isdigit() for c in m) for m in messages) and any(m.isupper() for m in messages)


def test_the_accented_words_are_non_ascii_and_split_into_disjoint_training_and_held_out_words():
    assert len(TRAIN_ACCENTED) > 200 and len(HELD_OUT_ACCENTED) > 50
    assert not set(TRAIN_ACCENTED) & set(HELD_OUT_ACCENTED)
    assert all(any(ord(c) > 127 for c in w) for w in TRAIN_ACCENTED + HELD_OUT_ACCENTED)


def test_an_accented_word_goes_where_its_ascii_spelling_is():
    words = [
        "limón",
        "águila",
        "canción",
        "árbol",
        "niño",
        "año",
        "café",
        "música",
        "pájaro",
        "cámara",
        "Limon",
    ]
    train, held = split_accented(words, trained={"aguila", "el"}, held_out={"limon"}, every=3)
    assert {"limón", "Limon"} <= set(held) and "águila" in train  # the identifier words' sides
    rest = ["canción", "árbol", "niño", "año", "café", "música", "pájaro", "cámara"]
    assert [w for w in rest if w in held] == ["niño", "música"]  # the others split every third
    assert not {to_ascii(w).lower() for w in train} & {to_ascii(w).lower() for w in held}


def test_held_out_message_words_never_reach_a_training_prompt():
    train = generate_java_instructions(
        3000, seed=0, message_fraction=0.3, extra_words=1000, word_lists=["english", "spanish"]
    )
    held_out = generate_java_instructions(200, seed=1_700_009, held_out=True, message_fraction=1.0)
    words = lambda examples: {w.lower().strip('"¡!¿?.,:()-') for e in examples for w in e["prompt"].split()}  # noqa: E731
    unseen = set(HELD_OUT_ACCENTED) & words(held_out)
    assert len(unseen) > 30 and not unseen & words(train)
    assert 0.25 < sum('"' in e["prompt"] for e in train) / 3000  # a print instruction quotes its message


@needs_javac
def test_every_message_method_compiles_and_prints_its_message():
    rng = random.Random(1)
    examples = [
        render_message([rng.choice(TRAIN_ACCENTED), w], rng.choice(["en", "es"]), rng)
        for w in ["apple", "cœur", "straße", "ñandú", "río"] * 4
    ]
    printed = printed_outputs([code for _, code in examples])
    for (text, _), out in zip(examples, printed):
        assert out is not None and f'"{out[:-1]}"' in text and out.endswith("\n")


def test_the_data_module_adds_message_sets_scored_on_held_out_words_only():
    from datamodules.java import JavaInstructDataModule

    data = JavaInstructDataModule(
        num_examples=400, message_fraction=0.5, num_message_examples=40, num_phrasing_examples=0
    )
    assert data.task.eval_sets == {
        "validate": ["val", "val_seen", "val_messages"],
        "test": ["test", "test_messages"],
    }
    for split in ("val_messages", "test_messages"):
        examples = data.generate_examples(split)
        assert len(examples) == 40 and all(
            e["completion"].startswith("public static void ") for e in examples
        )
    assert data.generate_examples("val_messages") != data.generate_examples("test_messages")
    assert JavaInstructDataModule(num_phrasing_examples=0).task.eval_sets == {
        "validate": ["val", "val_seen"],
        "test": ["test"],
    }


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A method's head, at the start of a line: its name (anything up to the parenthesis, so a name with a
# space or an accent is caught) and its parameters.
DECLARED = re.compile(r"^(?:(?:public|private|static)\s+)*\w+[ \t]+([^(\n]*?)\s*\(([^)]*)\)\s*\{", re.M)


def declared_names(code: str) -> list[str]:
    names = []
    for name, parameters in DECLARED.findall(code):
        names += [name] + [p.split()[-1] for p in parameters.split(",") if p.strip()]
    return names


def test_every_name_a_reference_declares_is_an_ascii_java_identifier_whatever_the_words():
    """Every word the task can draw (the bundled lists, the task's own, the accented message words) in every
    family, and messages with accents, punctuation, digits and a leading digit: names stay legal ASCII."""
    words = sorted(set(load_word_list("english") + load_word_list("spanish") + ENGLISH + SPANISH))
    accented = load_accented_words()
    rng = random.Random(0)
    codes = [
        make_example(f, [w, "apple"][:n], "en")["completion"] for w in words for f, (n, _) in FAMILIES.items()
    ]
    for word in accented:
        for lang in ("en", "es"):
            codes.append(render_message([word, rng.choice(accented)], lang, rng)[1])
    odd = ["¡Caleidoscopio Pangolín!", "42 niños", "¿?", "2026", "año 1º", "Ærø - λόγος", "x_y z!"]
    codes += [f'public static void {method_name("print", m)}() {{ System.out.println("{m}"); }}' for m in odd]
    for code in codes:
        names = declared_names(code)
        assert names and all(IDENTIFIER.fullmatch(n) and n not in JAVA_KEYWORDS for n in names), code
    assert method_name("print", "¡Caleidoscopio Pangolín!") == "printCaleidoscopioPangolin"


@needs_javac
def test_a_sample_of_those_references_compiles():
    rng = random.Random(1)
    words = rng.sample(load_word_list("english") + load_word_list("spanish"), 40)
    codes = [
        make_example(f, [w, "apple"][:n], "es")["completion"] for w in words for f, (n, _) in FAMILIES.items()
    ]
    codes += [render_message([w, "río"], "en", rng)[1] for w in load_accented_words()]
    assert all(compile_snippets(codes))
