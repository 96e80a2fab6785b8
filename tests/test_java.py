import re
import shutil

import pytest
import torch

from datamodules.java_corpus import JavaCorpusDataModule, held_out_by_name, iter_java_files, pack
from datamodules.java_instruct import (
    FAMILIES,
    JavaInstructDataModule,
    generate_java_instructions,
    make_example,
)
from datamodules.java_words import HELD_OUT_WORDS_EN, HELD_OUT_WORDS_ES, TRAIN_WORDS_EN, TRAIN_WORDS_ES
from datamodules.records import DataError
from lit.cli import cli_main
from modules.java_compile import compile_snippets
from modules.metrics import JavaMetrics, normalize_code
from tests.conftest import ROOT

needs_javac = pytest.mark.skipif(shutil.which("javac") is None, reason="javac not installed")


def test_20000_generated_examples_are_unique_and_cover_every_family():
    examples = generate_java_instructions(20_000, seed=0)
    assert len({e["prompt"] for e in examples}) == 20_000
    assert len({(e["prompt"], e["completion"]) for e in examples}) == 20_000
    first_lines = {e["completion"].splitlines()[0] for e in examples}
    assert any("print" in line for line in first_lines) and len(FAMILIES) >= 8
    assert any(e["prompt"].startswith("// A function") for e in examples)
    assert any(e["prompt"].startswith("// Una función") for e in examples)


def test_no_held_out_word_appears_in_a_training_instruction():
    held_out = set(HELD_OUT_WORDS_EN + HELD_OUT_WORDS_ES)
    assert not held_out & set(TRAIN_WORDS_EN + TRAIN_WORDS_ES)
    for example in generate_java_instructions(20_000, seed=0) + generate_java_instructions(
        20_000, seed=0, extra_words=1000
    ):
        words = set(re.findall(r"[a-z]+", example["prompt"].lower()))
        assert not words & held_out, example["prompt"]
    for example in generate_java_instructions(200, seed=1_000_003, held_out=True):
        words = set(re.findall(r"[a-z]+", example["prompt"].lower()))
        assert words & held_out, example["prompt"]


def test_pseudo_words_are_new_valid_identifiers():
    from datamodules.java_words import ENGLISH, JAVA_KEYWORDS, SPANISH, pseudo_words

    words = pseudo_words(1000)
    assert len(set(words)) == 1000 and words == pseudo_words(1000)
    assert not set(words) & (JAVA_KEYWORDS | set(ENGLISH) | set(SPANISH))
    assert all(w.isalpha() and w.islower() for w in words)


def test_seed_example_format():
    example = make_example("print", ["hello", "world"], "en")
    assert example["prompt"] == '// A function that prints "Hello World"'
    assert example["completion"] == 'public static void printHelloWorld() {\n    System.out.println("Hello World");\n}'


def test_accuracy_on_known_pairs():
    metric = JavaMetrics(compile_check=False)
    reference = "public static int sumAB(int a, int b) {\n    return a + b;\n}"
    metric.update(
        ["public static int sumAB(int a, int b) { return a + b; }",  # same after whitespace normalisation
         "public static int sumAB(int a, int b) {\n    return a - b;\n}"],
        [reference, reference],
    )  # fmt: skip
    assert metric.compute() == {"accuracy": torch.tensor(0.5)}
    assert normalize_code("  a\n\tb  ") == "a b"


@needs_javac
def test_compile_check_on_known_good_and_bad_methods():
    good = [make_example(f, ["apple", "river"][: n], "en")["completion"] for f, (n, _) in FAMILIES.items()]
    bad = [
        "public static int broken( { return 1; }",  # syntax error
        'public static int wrongType() {\n    return "x";\n}',  # type error
        "public static void open() {",  # unbalanced: must not swallow the next method
    ]
    results = compile_snippets(bad[:2] + good + bad[2:])
    assert results == [False, False] + [True] * len(good) + [False]
    metric = JavaMetrics()
    metric.update(good[:2] + bad[:1], good[:2] + good[:1])
    values = metric.compute()
    assert torch.isclose(values["compile_rate"], torch.tensor(2 / 3))


def test_corpus_keeps_indentation_splits_by_file_and_packs_without_padding(tmp_path):
    (tmp_path / "A.java").write_text("class A {\n    int x;\n}\n", encoding="utf-8")
    (tmp_path / "B.java").write_text("class A {\n    int x;\n}\n", encoding="utf-8")  # a duplicate
    files = list(iter_java_files(str(tmp_path)))
    assert files[0] == ("A.java", "class A {\n    int x;\n}\n")
    assert held_out_by_name("A.java", 0.5) == held_out_by_name("A.java", 0.5)
    blocks = pack([[1, 2, 3], [4, 5]], eos=0, block_size=3)
    assert blocks.tolist() == [[1, 2, 3], [0, 4, 5]]  # the trailing EOS is dropped, nothing padded


def test_corpus_bad_sources_name_the_source(tmp_path):
    empty_dir = tmp_path / "nojava"
    empty_dir.mkdir()
    (empty_dir / "README.md").write_text("no java here")
    with pytest.raises(DataError, match="nojava.*holds no .java files"):
        list(iter_java_files(str(empty_dir)))
    fake_zip = tmp_path / "fake.zip"
    fake_zip.write_text("not a zip")
    with pytest.raises(DataError, match="fake.zip.*is not a zip archive"):
        list(iter_java_files(str(fake_zip)))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    dm = JavaCorpusDataModule(tokenizer=str(ROOT / "tests/assets/tiny-gpt2"), sources=[str(empty)])
    with pytest.raises(DataError, match="Java train set is empty"):
        dm.setup("fit")
    no_text = tmp_path / "notext.jsonl"
    no_text.write_text('{"code": "class A {}"}\n')
    with pytest.raises(DataError, match=r"notext\.jsonl:1: record has no 'text' field"):
        list(iter_java_files(str(no_text)))


@pytest.mark.parametrize("config", ["configs/tiny/java_instruct.yaml", "configs/tiny/java_autoregressive.yaml"])
def test_tiny_java_configs_fit(config, tmp_path):
    cli = cli_main(["fit", "--config", config, "--trainer.default_root_dir", str(tmp_path),
                    "--trainer.enable_progress_bar", "false"])  # fmt: skip
    metrics = cli.trainer.callback_metrics
    assert cli.trainer.state.finished and torch.isfinite(metrics["val/loss"])
    assert torch.isclose(metrics["val/ppl"], metrics["val/loss"].exp())
    if "instruct" in config:
        assert {"val/accuracy", "val_seen/accuracy"} <= set(metrics)
        if shutil.which("javac"):
            assert "val/compile_rate" in metrics


def test_a_checkpoint_brings_its_weights_but_the_command_chooses_how_to_decode(tmp_path):
    tiny = ["--config", "configs/tiny/java_instruct.yaml", "--trainer.enable_progress_bar", "false",
            "--data.init_args.compile_check", "false"]  # fmt: skip
    cli_main(["fit", *tiny, "--trainer.default_root_dir", str(tmp_path), "--trainer.max_steps", "2",
              "--model.init_args.num_beams", "3", "--model.init_args.max_new_tokens", "12"])  # fmt: skip
    ckpt = next(tmp_path.rglob("last.ckpt"))
    assert torch.load(ckpt, weights_only=True)["hyper_parameters"]["num_beams"] == 3
    greedy = cli_main(["test", *tiny, "--ckpt_path", str(ckpt), "--model.init_args.num_beams", "1"])
    assert (greedy.model.num_beams, greedy.model.max_new_tokens) == (1, 32)  # the command's, the config's
    assert greedy.trainer.state.finished and "test/accuracy" in greedy.trainer.callback_metrics
    beams = cli_main(["test", *tiny, "--ckpt_path", str(ckpt), "--model.init_args.num_beams", "2",
                      "--model.init_args.max_new_tokens", "8"])  # fmt: skip
    assert (beams.model.num_beams, beams.model.max_new_tokens) == (2, 8)


def test_two_stage_training_starts_from_the_corpus_checkpoint(tmp_path):
    stage1 = cli_main(["fit", "--config", "configs/tiny/java_autoregressive.yaml",
                       "--trainer.default_root_dir", str(tmp_path / "ar"), "--trainer.enable_progress_bar", "false",
                       "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint"])  # fmt: skip
    ckpt = next((tmp_path / "ar").rglob("*.ckpt"))
    stage2 = cli_main(["fit", "--config", "configs/tiny/java_instruct.yaml", "--trainer.max_steps", "0",
                       "--model.init_args.init_weights", str(ckpt),
                       "--trainer.default_root_dir", str(tmp_path / "instruct")])  # fmt: skip
    trained = stage1.model.model.state_dict()
    for key, value in stage2.model.model.state_dict().items():
        assert torch.equal(value, trained[key]), key


def test_data_command_java(tmp_path):
    out = tmp_path / "java.jsonl"
    cli_main(["data", "java-instruct", "--num-examples", "50", "--seed", "0", "--out", str(out)])
    assert len(out.read_text(encoding="utf-8").splitlines()) == 50


def test_near_words_are_one_letter_from_a_real_word_and_never_real_or_held_out():
    from datamodules.java_words import ENGLISH, JAVA_KEYWORDS, SPANISH, near_words

    real = TRAIN_WORDS_EN + TRAIN_WORDS_ES
    reserved = set(ENGLISH) | set(SPANISH)
    words = near_words(real, 300, reserved)
    assert len(words) == 300 and near_words(real, 300, reserved) == words  # seeded
    assert not set(words) & (reserved | JAVA_KEYWORDS)
    for word in words:  # same length, same first letter, exactly one other letter
        close = [r for r in real if len(r) == len(word) and r[0] == word[0]
                 and sum(a != b for a, b in zip(r, word)) == 1]  # fmt: skip
        assert close, word
    examples = generate_java_instructions(2000, seed=0, near_words=300)
    assert {w for e in examples for w in re.findall(r"[a-z]+", e["prompt"])} & set(words)


def test_word_lists_never_bring_a_held_out_word_into_training(tmp_path):
    import re

    from datamodules.java_words import load_word_list
    from modules.errors import UserInputError

    held_out = set(HELD_OUT_WORDS_EN + HELD_OUT_WORDS_ES)
    own = tmp_path / "words.txt"
    own.write_text("# mine\n" + "\n".join(sorted(held_out)) + "\nzorblat\n")  # a list that holds every held-out word
    examples = generate_java_instructions(5000, seed=0, extra_words=1000, word_lists=["english", "spanish", str(own)],
                                          near_words=2000)  # fmt: skip
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

    from datamodules.java_instruct import word_vocabulary
    from datamodules.java_words import respelled_words
    from tests.conftest import TINY_MISTRAL

    gpt2 = AutoTokenizer.from_pretrained(str(ROOT / "tests" / "assets" / "tiny-gpt2"))
    words = ["pepper", "river", "engine", "cobalt", "brisa"]
    # " engine" is "en" "g" "in" "e", "Engine" inside "productEngine" is "E" "n" "g" "in" "e";
    # " pepper" and "Pepper" split into the same pieces in this tiny vocabulary.
    assert respelled_words(words, gpt2) == ["engine", "cobalt", "brisa"]
    assert respelled_words(words, AutoTokenizer.from_pretrained(TINY_MISTRAL)) == []  # letter by letter

    vocabulary = word_vocabulary(extra_words=1000)
    focus = set(respelled_words(vocabulary, gpt2))
    assert 0.1 < len(focus) / len(vocabulary) < 0.5

    rendered = [make_example(f, ["qqq", "zzz"][:n], lang)["prompt"]
                for f, (n, _) in FAMILIES.items() for lang in ("en", "es")]  # fmt: skip
    template = {w for prompt in rendered for w in re.findall(r"[a-z]+", prompt.lower())}

    def share(examples) -> float:  # of the drawn words (the prompt's words but the template's) in `focus`
        drawn = [w for e in examples for w in re.findall(r"[a-z]+", e["prompt"].lower()) if w not in template]
        return sum(w in focus for w in drawn) / len(drawn)

    uniform = generate_java_instructions(2000, seed=0, extra_words=1000)
    favoured = generate_java_instructions(2000, seed=0, extra_words=1000, respelled=focus.__contains__,
                                          respelled_fraction=0.8)  # fmt: skip
    assert abs(share(uniform) - len(focus) / len(vocabulary)) < 0.1
    assert share(favoured) > 0.8 + 0.2 * share(uniform) - 0.1  # 80% from the focus, the rest uniform
    assert len({e["prompt"] for e in favoured}) == 2000
    with pytest.raises(ValueError, match="respelled_fraction"):
        JavaInstructDataModule(respelled_fraction=1.5)
    with pytest.raises(ValueError, match="needs at least 2 respelled words in the vocabulary, found 1"):
        generate_java_instructions(10, seed=0, respelled={"apple"}.__contains__, respelled_fraction=1.0)
