"""bench/tables.py: every measured figure in README.md and docs/ is written from a committed record, and
`--check` fails when a doc and its records disagree or a doc states a figure outside a table block."""

import shutil
from pathlib import Path

import pytest

from bench import tables

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def docs_copy(tmp_path: Path) -> Path:
    """README.md and docs/ copied under tmp_path (the records stay the repository's)."""
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def test_the_committed_docs_agree_with_their_records():
    assert tables.check(ROOT) == []
    assert tables.main(["--check"]) == 0


def test_a_figure_edited_by_hand_in_a_table_fails_the_check(docs_copy: Path):
    results = docs_copy / "docs" / "results.md"
    text = results.read_text(encoding="utf-8")
    body = tables.BLOCK.search(text)["body"]
    edited = body.replace(
        "0.91 (", "0.95 (", 1
    )  # the main job's bf16 `val` exact, as a reader would quote it
    assert edited != body
    results.write_text(text.replace(body, edited), encoding="utf-8")
    assert tables.check(docs_copy) == [
        "docs/results.md: a table differs from its records (python -m bench.tables rewrites it)"
    ]
    assert tables.main(["--check", "--root", str(docs_copy)]) == 1
    assert tables.main(["--root", str(docs_copy)]) == 0  # rewritten from the records
    assert results.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    "prose",
    [
        "The main job reaches 0.91 on val.",
        "lit trains at 497 tokens/s.",
        "1.5x the Trainer.",
        "It took 14.1 min.",
        "accuracy 80.5% on test",
        "peak memory 9.2 GiB",
    ],
)
def test_a_measured_figure_outside_a_table_block_fails_the_check(docs_copy: Path, prose: str):
    readme = docs_copy / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + f"\n{prose}\n", encoding="utf-8")
    [problem] = tables.check(docs_copy)
    assert problem.startswith("README.md, line ") and prose in problem


def test_settings_in_code_and_a_confidence_level_are_not_figures():
    assert (
        tables.figures_outside_blocks(
            "Set `lr: 0.0001` and `dropout 0.05`.\n```yaml\nlr: 0.001\n```\nA 95% interval.\n"
        )
        == []
    )


def test_an_unknown_table_or_a_missing_record_is_named(docs_copy: Path, monkeypatch):
    readme = docs_copy / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8") + "\n<!-- table: nowhere -->\n<!-- end table -->\n",
        encoding="utf-8",
    )
    assert tables.check(docs_copy)[0].startswith("README.md: no table named ['nowhere']")
    shutil.copy(ROOT / "README.md", readme)
    monkeypatch.setattr(tables, "RECORDS", docs_copy / "no_records")
    assert "does not exist (a table reads it)" in tables.check(docs_copy)[0]


def test_the_interval_is_wilson_s_over_the_distinct_items():
    assert tables.with_interval(0.91, 100) == "0.91 (0.84-0.95)"
    assert tables.with_interval(0.0, 40) == "0.00 (0.00-0.09)"  # none right of 40: still not zero
    low, high = tables.wilson_interval(6, 6)
    assert round(low, 2) == 0.61 and high == pytest.approx(1.0)  # 6 of 6 is not certainty
