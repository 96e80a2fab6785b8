"""Running generated print methods: what they print, and every way a generation can fail to."""

from datamodules.java.run import is_runnable, printed_outputs
from tests.helpers import needs_javac

PRINTS = 'public static void printHola() {\n    System.out.println("¡Hola, Vórtice 42!");\n}'


def test_runnable_means_one_static_method_without_parameters():
    assert is_runnable(PRINTS)
    assert not is_runnable("public static void f(int x) { System.out.println(x); }")
    assert not is_runnable('public void f() { System.out.println("x"); }')  # not static: needs an object
    assert not is_runnable("")
    assert not is_runnable("public static void f() {} public static void g() {}")


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
