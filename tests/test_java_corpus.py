"""The Java corpus: whole files, split by file, packed without padding, tokens cached."""

import pytest
import torch

from datamodules.java.corpus import JavaCorpusDataModule, held_out_by_name, iter_java_files, pack
from datamodules.records import DataError
from tests.helpers import ROOT, TINY_GPT2


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


def test_corpus_tokens_are_cached_across_runs(tmp_path, monkeypatch):
    from datamodules import JavaCorpusDataModule
    from modules.tokenizer import load_tokenizer

    monkeypatch.setenv("LIT_CACHE", str(tmp_path))
    texts = ["class A { int a; }", "interface B { void b(); }"] * 20
    first = JavaCorpusDataModule(tokenizer=TINY_GPT2, block_size=16)
    first.tokenizer = load_tokenizer(TINY_GPT2)
    blocks = first.tokenized_blocks(texts)
    assert len(list((tmp_path / "tokens").glob("*.pt"))) == 1

    again = JavaCorpusDataModule(tokenizer=TINY_GPT2, block_size=16)
    again.tokenizer = load_tokenizer(TINY_GPT2)
    monkeypatch.setattr(type(again.tokenizer), "__call__", lambda *a, **k: pytest.fail("tokenized again"))
    assert torch.equal(again.tokenized_blocks(texts), blocks)
    again.block_size = 8  # another packing is another entry
    with pytest.raises(pytest.fail.Exception, match="tokenized again"):
        again.tokenized_blocks(texts)
