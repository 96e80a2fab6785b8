"""Java metrics: exact match after whitespace normalisation, and javac's compile rate."""

import pytest
import torch

from datamodules.java.families import FAMILIES, make_example
from datamodules.java.javac import compile_snippets, is_one_method, members
from datamodules.java.metric import JavaMetrics, normalize_code
from tests.helpers import needs_javac


def test_accuracy_on_known_pairs():
    metric = JavaMetrics(compile_check=False)
    reference = "public static int sumAB(int a, int b) {\n    return a + b;\n}"
    metric.update(
        [
            "public static int sumAB(int a, int b) { return a + b; }",  # same after whitespace normalisation
            "public static int sumAB(int a, int b) {\n    return a - b;\n}",
        ],
        [reference, reference],
    )
    assert metric.compute() == {"accuracy": torch.tensor(0.5)}
    assert normalize_code("  a\n\tb  ") == "a b"


@needs_javac
def test_compile_check_on_known_good_and_bad_methods():
    good = [make_example(f, ["apple", "river"][:n], "en")["completion"] for f, (n, _) in FAMILIES.items()]
    bad = [
        "public static int broken( { return 1; }",  # syntax error
        'public static int wrongType() {\n    return "x";\n}',  # type error
        "public static void open() {",  # unbalanced: must not swallow the next method
    ]
    # Every reference the generator writes is one method, or a field with its getter and setter.
    assert all(members(code) in (["method"], ["field", "method", "method"]) for code in good)
    results = compile_snippets(bad[:2] + good + bad[2:])
    assert results == [False, False] + [True] * len(good) + [False]
    metric = JavaMetrics()
    metric.update(good[:2] + bad[:1], good[:2] + good[:1])
    values = metric.compute()
    assert torch.isclose(values["compile_rate"], torch.tensor(2 / 3))


@needs_javac
def test_errors_javac_places_on_no_snippet_or_past_the_runs_fail_only_their_own_snippets(monkeypatch):
    """Many broken generations once made every snippet of a set count as not compiling: errors that
    cascade past `max_runs`, or that javac reports on no snippet's line, failed the good ones too."""
    import re

    import datamodules.java.javac as javac

    good = [make_example(f, ["apple", "river"][:n], "en")["completion"] for f, (n, _) in FAMILIES.items()]
    bad = ["public static int broken( { return 1; }", 'public static int t() {\n    return "x";\n}']
    snippets = [bad[0], *good[:4], bad[1], *good[4:]]
    expected = [False] + [True] * 4 + [False] + [True] * (len(good) - 4)
    assert compile_snippets(snippets, max_runs=0) == expected  # no blaming run: halves settle it
    monkeypatch.setattr(javac, "ERROR_LINE", re.compile(r"^never$", re.M))  # no error placed
    assert compile_snippets(snippets) == expected


METHODS = [
    'public static void hello() {\n    System.out.println("Hello, World!");\n}',
    # a comment around is fine
    "// sums two numbers\npublic static int sumAB(int a, int b) { return a + b; }",
    "static <T> java.util.List<T> one(T x) throws Exception { return java.util.List.of(x); }",
    'public static String[] names() { return new String[] {"{"}; }',  # braces inside literals
    '@Override public String toString() { return "}"; }',
]
NOT_METHODS = [
    "",
    "   ",
    "// a comment",
    "/* a block comment */",
    "int x;",
    "int x = 3;",
    "class Foo {}",
    "public class Foo { void f() {} }",
    "public static void f() {} public static void g() {}",
    "public static void f() {}}",
    "abstract void f();",
    "public static void f() {",
    "if (x) { y(); }",
    "new Thread() { }",
    "return 1;",
]


@pytest.mark.parametrize("code", METHODS)
def test_one_method_declaration_with_a_body_is_a_method(code):
    assert is_one_method(code)


@pytest.mark.parametrize("code", NOT_METHODS)
def test_empty_output_comments_fields_classes_and_several_methods_are_not_one_method(code):
    assert not is_one_method(code)


@needs_javac
def test_compile_rate_counts_only_methods_that_compile():
    metric = JavaMetrics()
    # javac accepts all of these inside a class; only the first is a method.
    outputs = [METHODS[0], "", "// nothing", "int x;", "class Foo {}", "void f() {} void g() {}"]
    metric.update(outputs, [METHODS[0]] * len(outputs))
    values = metric.compute()
    assert torch.isclose(values["compile_rate"], torch.tensor(1 / len(outputs)))
    assert torch.isclose(values["accuracy"], torch.tensor(1 / len(outputs)))


@needs_javac
def test_a_field_with_getter_and_setter_counts_only_whole():
    reference = make_example("getter_setter", ["apple"], "en")["completion"]
    getter = "public int getApple() {\n    return apple;\n}"
    metric = JavaMetrics()
    metric.update([reference, getter, "private int apple;"], [reference] * 3)
    assert torch.isclose(metric.compute()["compile_rate"], torch.tensor(1 / 3))


@needs_javac
def test_prints_right_counts_a_method_that_prints_its_reference_text_exactly():
    reference = 'public static void imprimeHola() {\n    System.out.println("¡Hola, Vórtice!");\n}'
    metric = JavaMetrics()
    metric.update(
        [
            reference.replace("imprimeHola", "saludo"),  # another name, same output: right
            reference.replace("Vórtice", "Vortice"),  # an accent lost
            reference.replace("!", ""),  # the ! lost
            "",  # nothing
            "public static int sumAB(int a, int b) { return a + b; }",
        ],  # not a print instruction
        [reference] * 4 + ["public static int sumAB(int a, int b) { return a + b; }"],
    )
    values = metric.compute()
    assert torch.isclose(values["prints_right"], torch.tensor(1 / 4))  # over the 4 print instructions
    assert torch.isclose(values["accuracy"], torch.tensor(1 / 5))
    without_prints = JavaMetrics()
    without_prints.update(
        ["public static int f() { return 1; }"], ["public static int f(int x) { return x; }"]
    )
    assert "prints_right" not in without_prints.compute()


@needs_javac
def test_runs_right_scores_what_a_method_does_not_how_it_is_written():
    total = make_example("sum", ["apple", "river"], "es")["completion"]
    prints = make_example("print", ["apple", "river"], "en")["completion"]
    metric = JavaMetrics()
    metric.update(
        [
            "public static int suma(int x, int y) { return y + x; }",  # another name and body, right
            total.replace("apple + river", "apple + 1"),  # compiles, wrong
            "",
            prints,
        ],
        [total, total, total, prints],
    )
    values = metric.compute()
    assert torch.isclose(values["runs_right"], torch.tensor(2 / 4))
    assert torch.isclose(values["prints_right"], torch.tensor(1.0))  # over the one print instruction
    assert torch.isclose(values["accuracy"], torch.tensor(1 / 4))
    assert torch.isclose(values["compile_rate"], torch.tensor(3 / 4))
