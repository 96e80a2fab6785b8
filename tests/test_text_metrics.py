"""The built-in text metrics on good output, near misses, the empty output and junk, as configs name them."""

import pytest

from datamodules.metrics import MetricSpec, NamedMetrics
from datamodules.text_metrics import first_number, normalize

JUNK = "\x00\ufffd<|im_end|> 🙂 ###\n\t" * 5


def value(spec, predictions, references):
    """The logged value(s) of one configured metric on these generations."""
    metric = MetricSpec.parse(spec).make()
    metric.update(predictions, references)
    out = metric.compute()
    return {k: float(v) for k, v in out.items()} if isinstance(out, dict) else float(out)


def test_normalize_and_first_number():
    assert normalize("  ¡Sí,   Señor!  ") == "si senor" and normalize("") == ""
    assert first_number("about 1,234.5 km and 7") == 1234.5 and first_number("-3 grados") == -3.0
    assert first_number("tres") is None and first_number("") is None and first_number(JUNK) is None


def test_exact_normalized_and_contains_on_hits_near_misses_empty_and_junk():
    reference = "Nueve más tres"
    cases = {  # output: (exact_match, normalized_exact_match, contains)
        "Nueve más tres": (1, 1, 1),
        "  Nueve más tres\n": (1, 1, 1),  # the ends are not the answer
        "nueve mas tres.": (0, 1, 1),  # case, accent, punctuation: a near miss only to exact match
        "nueve más tres más uno": (0, 0, 1),  # says more: contains still finds it
        "nueve más tre": (0, 0, 0),  # one letter short
        "nueve más treses": (0, 0, 0),  # contains matches whole words only
        "": (0, 0, 0),
        JUNK: (0, 0, 0),
    }
    for output, expected in cases.items():
        got = tuple(
            value(name, [output], [reference])
            for name in ("exact_match", "normalized_exact_match", "contains")
        )
        assert got == expected, output
    assert value("exact_match", list(cases), [reference] * len(cases)) == pytest.approx(2 / 8)  # the mean
    assert value("contains", ["anything"], [""]) == 0.0  # an empty reference is contained nowhere


def test_number_error_counts_a_missing_number_as_zero_and_says_how_often():
    got = value(
        "number_error",
        ["The answer is 42.", "41", "about 1,000", "", JUNK, "cuarenta y dos"],
        ["42", "#### 42", "42", "42", "42", "42"],
    )
    assert got["number_error"] == pytest.approx((0 + 1 + 958 + 42 + 42 + 42) / 6)
    assert got["number_found"] == pytest.approx(3 / 6)
    renamed = value({"name": "number_error", "key": "answer_error"}, ["7"], ["5"])
    assert renamed == {"answer_error": 2.0, "answer_found": 1.0}
    assert (
        NamedMetrics([MetricSpec.parse("number_error")])
        .reference_problems("cuarenta")[0]
        .endswith("has no number written with digits (metric number_error)")
    )


def test_regex_match_extracts_from_output_and_reference():
    spec = {"name": "regex_match", "pattern": r"####\s*(-?\d+)"}
    assert value(spec, ["work... #### 42", "#### 41", "42", "", JUNK], ["#### 42"] * 5) == pytest.approx(
        1 / 5
    )
    assert (
        value(spec, ["so #### 42"], ["42"]) == 1.0
    )  # a reference the pattern does not match is the answer itself
    whole = {"name": "regex_match", "pattern": r"[a-z]+", "group": 0, "ignore_case": True}
    assert value(whole, ["  YES, sure"], ["yes"]) == 1.0
    with pytest.raises(ValueError, match="has 0 group"):
        MetricSpec.parse({"name": "regex_match", "pattern": "x"}).make()


def test_torchmetrics_text_metrics_on_hits_near_misses_empty_and_junk():
    reference = "nueve más nueve más dos"
    for name, perfect, worst in (
        ("chrf", 1.0, 0.0),
        ("bleu", 1.0, 0.0),
        ("edit_distance", 0.0, len(reference)),
    ):
        hit, near, empty = (
            value(name, [o], [reference]) for o in (reference, "nueve más nueve más tres", "")
        )
        junk = value(name, [JUNK], [reference])
        assert hit == pytest.approx(perfect) and empty == pytest.approx(worst), name
        assert min(perfect, worst) <= near <= max(perfect, worst) and near != hit, name
        assert min(perfect, worst) <= junk <= max(perfect, worst) or name == "edit_distance", name
    assert value("edit_distance", ["nueve más nueve más tres"], [reference]) == 3.0  # "dos" -> "tres"
    assert value({"name": "bleu", "n_gram": 2}, ["nueve más"], ["nueve más"]) == pytest.approx(1.0)
