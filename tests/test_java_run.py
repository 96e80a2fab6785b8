"""Running generated methods: what they return and print, and every way a generation can fail to."""

import time

from datamodules.java.run import Calls, call_results, fits, printed_outputs
from tests.helpers import needs_javac

PRINTS = 'public static void printHola() {\n    System.out.println("¡Hola, Vórtice 42!");\n}'


def test_a_snippet_runs_when_it_has_the_shape_its_calls_need():
    once, property = Calls(((),)), Calls(((1,),), set_then_get=True)
    assert fits(PRINTS, once) and fits("public static void f(int x) { System.out.println(x); }", once)
    assert fits('public void f() { System.out.println("x"); }', once)  # an instance method: run on an object
    assert not fits("", once) and not fits("public static void f() {} public static void g() {}", once)
    assert not fits("public static void f() { System.exit(0); }", once)  # would end every later call
    getter_setter = "private int a;\npublic int getA() { return a; }\npublic void setA(int a) { this.a = a; }"
    assert fits(getter_setter, property) and not fits(getter_setter, once) and not fits(PRINTS, property)


@needs_javac
def test_printed_outputs_reads_what_each_method_prints_and_none_for_what_cannot_run():
    snippets = [
        PRINTS,
        PRINTS.replace("printHola", "otroNombre"),  # another name, the same output
        PRINTS.replace("Vórtice", "Vortice"),  # an accent dropped
        'public static void e() { System.out.print("ñandú"); System.out.print("ß"); }',
        "",  # empty output
        '// System.out.println("¡Hola, Vórtice 42!");',  # a comment only
        'public static void f() { System.out.println("x") }',  # does not compile
        "public static void g() { throw new IllegalStateException(); }",
        "public static void h() { while (true) { } }",  # never returns
        "public static void k(int x) { System.out.println(x); }",  # needs an argument
        'public static void l() { Runnable r = () -> System.out.println("λ"); r.run(); }',
    ]
    printed = printed_outputs(snippets, timeout_ms=500)
    assert printed[:4] == ["¡Hola, Vórtice 42!\n", "¡Hola, Vórtice 42!\n", "¡Hola, Vortice 42!\n", "ñandúß"]
    assert printed[4:10] == [None] * 6
    assert printed[10] == "λ\n"


@needs_javac
def test_call_results_give_what_each_call_returns_and_prints_and_none_for_any_failure():
    pairs = Calls(((2, 3), (7, -4)))
    snippets = [
        "public static int sumAB(int a, int b) { return a + b; }",
        "public int otro(int x, int y) { System.out.print(x); return y + x; }",  # prints too; an instance
        "public static int s(int a, int b) { return 10 / (a - 2); }",  # throws on (2, 3)
        "public static long big(int a, int b) { return (long) a * b; }",
        "public static int late(int a, int b) { while (a > 0) { } return b; }",  # never returns on (2, 3)
        'public static String hi(String x) { return "Hola, " + x + "!"; }',
        "private int f;\npublic int getF() { return f; }\npublic void setF(int f) { this.f = f * 2; }",
    ]
    plans = [pairs] * 5 + [Calls((("ñandú",), ("",)))] + [Calls(((7,), (-3,)), set_then_get=True)]
    results = call_results(snippets, plans, timeout_ms=500)
    assert results[0] == [("=5", ""), ("=3", "")]
    assert results[1] == [("=5", "2"), ("=3", "7")]
    assert results[2] is None and results[4] is None
    assert results[3] == [("=6", ""), ("=-28", "")]
    assert results[5] == [("=Hola, ñandú!", ""), ("=Hola, !", "")]
    assert results[6] == [("=14", ""), ("=-6", "")]  # set, then get: the value got back


@needs_javac
def test_a_method_that_never_returns_costs_its_time_limit_not_the_run():
    spins = [
        f"public static int spin{k}(int a) {{ while (true) {{ System.out.print(a); }} }}" for k in range(3)
    ]
    plans = [Calls(((1,), (2,)))] * 4
    start = time.monotonic()
    results = call_results(
        [*spins, "public static int twice(int a) { return 2 * a; }"], plans, timeout_ms=300
    )
    assert results == [None, None, None, [("=2", ""), ("=4", "")]]  # nothing spilled from the loops
    assert time.monotonic() - start < 20  # each loop stopped after its first call's 0.3 s


def test_the_java_tests_fail_in_ci_without_a_jdk_and_skip_elsewhere(tmp_path):
    """A green CI must have run the Java metric: without javac, `needs_javac` tests fail where `CI` is set."""
    import os
    import subprocess
    import sys

    from tests.helpers import ROOT

    test = f"{__file__}::test_printed_outputs_reads_what_each_method_prints_and_none_for_what_cannot_run"
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # python, and no javac
    results = {}
    for ci in ("1", ""):
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
            cwd=ROOT,
            env={**env, "CI": ci},
            capture_output=True,
            text=True,
        )
        results[ci] = (run.returncode, run.stdout.strip().splitlines()[-1])
    assert results["1"][0] == 1 and "1 error" in results["1"][1]
    assert results[""][0] == 0 and "1 skipped" in results[""][1]
