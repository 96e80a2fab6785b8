"""Java metrics: exact match after whitespace normalisation, and javac's compile rate."""

import torch

from datamodules.java.instruct import (
    FAMILIES,
    make_example,
)
from datamodules.java.javac import compile_snippets
from datamodules.java.metric import JavaMetrics, normalize_code
from tests.helpers import needs_javac


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
