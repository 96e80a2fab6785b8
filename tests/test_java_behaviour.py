"""`runs_right`: a generated method scores by what it does on its reference's inputs, not by its text."""

import re

from datamodules.java.behaviour import INPUTS, parameter_types, plan_for, runs_right
from datamodules.java.families import FAMILIES, make_example
from tests.helpers import needs_javac


def reference(family: str, lang: str = "en") -> str:
    return make_example(family, ["apple", "river"][: FAMILIES[family][0]], lang)["completion"]


def renamed(code: str) -> str:
    """The same members under other names: each declared method's name (a name right after its type)."""
    return re.sub(r"(?<=\w )([a-z]\w*)(?=\()", r"\1Other", code)


# Per family: a method that compiles, has the reference's shape, and does something else.
WRONG = {
    "print": 'public static void printAppleRiver() {\n    System.out.println("Apple river");\n}',
    "sum": "public static int sumAppleAndRiver(int apple, int river) { return apple + 1; }",
    "product": "public static int productAppleAndRiver(int apple, int river) { return apple + river; }",
    "max": "public static int maxAppleAndRiver(int apple, int river) { return apple; }",
    "min": "public static int minAppleAndRiver(int apple, int river) { return Math.max(apple, river); }",
    "is_even": "public static boolean isAppleEven(int apple) { return apple % 2 == 1; }",
    "count": "public static void printNumbersToApple(int apple) {\n"
    "    for (int i = 0; i < apple; i++) System.out.println(i);\n}",
    "greet": 'public static String greetApple(String apple) { return "Hello " + apple + "!"; }',
    "length": "public static int lengthOfApple(String apple) { return apple.length() + 1; }",
    "factorial": "public static long factorialOfApple(int apple) {\n"
    "    long r = 0;\n    for (int i = 1; i <= apple; i++) r *= i;\n    return r;\n}",
    "getter_setter": "private int apple;\npublic int getApple() { return 0; }\n"
    "public void setApple(int apple) { this.apple = apple; }",
}


def test_every_family_can_be_called_on_inputs_that_tell_right_from_wrong():
    assert set(WRONG) == set(FAMILIES)
    for family in FAMILIES:
        for lang in ("en", "es"):
            plan = plan_for(reference(family, lang))
            assert plan is not None and plan.inputs, family
    assert parameter_types(reference("sum")) == ("int", "int") and parameter_types(reference("greet")) == (
        "String",
    )
    assert ("int", "int") in INPUTS and any(a < b for a, b in INPUTS[("int", "int")])  # the larger second too
    assert plan_for("") is None and plan_for("public static int f(double x) { return 1; }") is None


@needs_javac
def test_a_right_method_under_another_name_scores_1_and_a_wrong_one_that_compiles_scores_0():
    families = list(FAMILIES)
    references = [reference(f) for f in families]
    generations = [renamed(r) for r in references] + [WRONG[f] for f in families]
    assert all(g != r for g, r in zip(generations, references))  # exact match would score none of them
    assert "Other(" in generations[0] and "Math.max(" in generations[families.index("max")]
    scores = runs_right(generations, references * 2, timeout_ms=1000)
    assert scores[: len(families)] == [1.0] * len(families)
    assert dict(zip(families, scores[len(families) :])) == dict.fromkeys(families, 0.0)


FAILING = [
    "",  # empty output
    "public static int sumAppleAndRiver(int apple, int river) { return apple + river }",  # no javac
    "sum apple river",  # junk
    "// return apple + river;",  # a comment only
    "public static int s(int apple) { return apple; }",  # another signature
    "public static int s(int a, int b) { while (true) { } }",  # never returns
    "public static int s(int a, int b) { System.exit(0); return a + b; }",  # would end the run
    "public static int s(int a, int b) { return a + b; } public static int t() { return 0; }",
    "public static int s(int a, int b) { return a / 0 + b; }",  # throws
]


@needs_javac
def test_empty_junk_non_compiling_throwing_and_endless_methods_score_0():
    right = "public static int total(int x, int y) { return y + x; }"
    scores = runs_right([*FAILING, right], [reference("sum")] * (len(FAILING) + 1), timeout_ms=300)
    assert scores == [0.0] * len(FAILING) + [1.0]  # the failures cost the right one nothing


def test_a_reference_with_nothing_to_call_is_not_scored():
    assert runs_right(["x"], ["class Foo {}"]) == [None]
