"""Run generated methods and read what they return and print: a score that looks at behaviour, not text.

A method that prints `¡Hola, Vórtice!` must print exactly that, and a sum must sum; comparing the text of
the method would also fail a method that does the right thing under another name. Every snippet is
compiled into one class (each in its own nested class) and called in one JVM: each call on its own
thread, with its own captured output and a time limit, so a loop that never ends costs one limit, not the
run. The method is found by its shape, never by its name: a snippet's only method, or, for a field with
its getter and setter, the method with one parameter (set) and the one with none (get).
"""

from __future__ import annotations

import base64
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from datamodules.java.javac import compile_snippets, members

# Code that would end the JVM (and every later snippet's result with it) is not run: no instruction asks
# for it, and the security manager that could stop it is gone from newer JDKs.
ENDS_THE_JVM = re.compile(r"\b(System\s*\.\s*exit|Runtime|halt)\b")

HARNESS = """
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

public class Run {
%(classes)s
    // Each call's thread (and any thread it starts) prints into its own buffer, so a call that overran its
    // limit and still prints cannot spill into the next one's; a runaway loop stops filling it at a limit.
    static final InheritableThreadLocal<ByteArrayOutputStream> CAPTURE = new InheritableThreadLocal<>();
    static final int MAX_PRINTED = 1 << 20;

    static String call(Class<?> type, Method method, Object[] target, Object[] args) throws Exception {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        String[] returned = {null};
        Thread thread = new Thread(() -> {
            CAPTURE.set(buffer);
            try {
                if (!Modifier.isStatic(method.getModifiers()) && target[0] == null) {
                    var made = type.getDeclaredConstructor();
                    made.setAccessible(true);
                    target[0] = made.newInstance();
                }
                returned[0] = "=" + method.invoke(target[0], args);
            } catch (Throwable t) {
                returned[0] = null;
            }
        });
        thread.setDaemon(true);
        thread.start();
        thread.join(%(timeout_ms)d);
        if (thread.isAlive()) {
            try { thread.stop(); } catch (Throwable t) { }  // frees the core where the JDK still can
            return null;
        }
        return returned[0] == null ? null : returned[0] + "\\0" + buffer.toString("UTF-8");
    }

    // What the snippet returns and prints on each input, or null when a call fails.
    static String run(Class<?> type, boolean setThenGet, Object[][] inputs) throws Exception {
        List<Method> methods = new ArrayList<>();
        for (Method m : type.getDeclaredMethods()) if (!m.isSynthetic()) methods.add(m);
        methods.sort((x, y) -> x.getParameterCount() - y.getParameterCount());
        for (Method m : methods) m.setAccessible(true);
        Object[] target = {null};
        StringBuilder records = new StringBuilder();
        for (Object[] args : inputs) {
            String record;
            if (setThenGet) {  // [get(), set(x)] once sorted by parameter count
                if (methods.size() != 2 || methods.get(0).getParameterCount() != 0) return null;
                String set = call(type, methods.get(1), target, args);
                String get = set == null ? null : call(type, methods.get(0), target, new Object[0]);
                // the value got back, and what both calls printed
                record = get == null ? null
                    : get.substring(0, get.indexOf('\\0') + 1) + set.substring(set.indexOf('\\0') + 1)
                        + get.substring(get.indexOf('\\0') + 1);
            } else {
                if (methods.size() != 1) return null;
                record = call(type, methods.get(0), target, args);
            }
            if (record == null) return null;
            records.append(record).append("\\2");
        }
        return records.toString();
    }

    public static void main(String[] args) throws Exception {
        PrintStream terminal = System.out;
        System.setOut(new PrintStream(new OutputStream() {
            public void write(int b) {
                ByteArrayOutputStream buffer = CAPTURE.get();
                if (buffer != null && buffer.size() < MAX_PRINTED) buffer.write(b);
            }
        }, true, "UTF-8"));
        Class<?>[] snippets = {%(names)s};
        int[] indices = {%(indices)s};
        boolean[] setThenGet = {%(set_then_get)s};
        Object[][][] inputs = {%(inputs)s};
        for (int k = 0; k < snippets.length; k++) {
            String result = "-";
            try {
                String records = run(snippets[k], setThenGet[k], inputs[k]);
                if (records != null) result = Base64.getEncoder().encodeToString(records.getBytes("UTF-8"));
            } catch (Throwable t) {
                result = "-";
            }
            terminal.println(indices[k] + " " + result);
            terminal.flush();
        }
        System.exit(0);  // a call still running past its limit must not keep the JVM alive
    }
}
"""


@dataclass(frozen=True)
class Calls:
    """How to call a snippet: each input tuple in turn (ints and strings), on its only method; or, with
    `set_then_get`, its setter with the input then its getter, on one instance."""

    inputs: tuple[tuple, ...]
    set_then_get: bool = False


def java_literal(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"inputs are ints and strings, got {value!r}")
    return str(value)


def fits(code: str, calls: Calls) -> bool:
    """Whether `code` has the shape `calls` needs and nothing that would end the JVM."""
    expected = ["field", "method", "method"] if calls.set_then_get else ["method"]
    return members(code) == expected and not ENDS_THE_JVM.search(code)


def _harness(snippets: list[str], plans: list[Calls], chosen: list[int], timeout_ms: int) -> str:
    def inputs(calls: Calls) -> str:
        return "{" + ", ".join("{" + ", ".join(map(java_literal, args)) + "}" for args in calls.inputs) + "}"

    return HARNESS % {
        "classes": "\n".join(f"    static class M{i} {{\n{snippets[i]}\n    }}" for i in chosen),
        "names": ", ".join(f"M{i}.class" for i in chosen),
        "indices": ", ".join(str(i) for i in chosen),
        "set_then_get": ", ".join(str(plans[i].set_then_get).lower() for i in chosen),
        "inputs": ", ".join(inputs(plans[i]) for i in chosen),
        "timeout_ms": timeout_ms,
    }


def _compiles(tmp: str, source: str) -> bool:
    Path(tmp, "Run.java").write_text(source, encoding="utf-8")
    build = subprocess.run(
        ["javac", "-nowarn", "-encoding", "UTF-8", "-d", ".", "Run.java"],
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    return build.returncode == 0


def call_results(
    snippets: list[str], plans: list[Calls | None], timeout_ms: int = 2000
) -> list[list[tuple[str, str]] | None]:
    """For each snippet, what each call of its plan returned ("=" and `String.valueOf` of the value,
    "=null" for void) and printed (UTF-8), or None: no plan, not the plan's shape (one method; a field,
    a getter and a setter), does not compile, throws, or a call runs past `timeout_ms`."""
    results: list[list[tuple[str, str]] | None] = [None] * len(snippets)
    candidates = [i for i, plan in enumerate(plans) if plan is not None and fits(snippets[i], plan)]
    if not candidates:
        return results
    with tempfile.TemporaryDirectory(prefix="lit-java-run-") as tmp:
        chosen = candidates
        if not _compiles(tmp, _harness(snippets, plans, chosen, timeout_ms)):  # find the ones that fail
            ok = compile_snippets([snippets[i] for i in candidates])
            chosen = [i for i, good in zip(candidates, ok) if good]
            if not chosen or not _compiles(tmp, _harness(snippets, plans, chosen, timeout_ms)):
                return results  # each compiles alone but not together: a clash, count none
        calls = sum(len(plans[i].inputs) * (1 + plans[i].set_then_get) for i in chosen)
        try:
            run = subprocess.run(
                ["java", "-Xss8m", "-cp", ".", "Run"],
                capture_output=True,
                stdin=subprocess.DEVNULL,  # a method that reads input gets none instead of waiting
                cwd=tmp,
                timeout=30 + calls * timeout_ms / 1000,
            )
            stdout = run.stdout
        except subprocess.TimeoutExpired as late:  # what had finished still counts
            stdout = late.stdout or b""
    for line in stdout.decode("utf-8", errors="replace").splitlines():
        index, _, encoded = line.partition(" ")
        if encoded and encoded != "-":
            records = base64.b64decode(encoded).decode("utf-8", errors="replace").split("\2")[:-1]
            results[int(index)] = [tuple(record.split("\0", 1)) for record in records]
    return results


def printed_outputs(snippets: list[str], timeout_ms: int = 2000) -> list[str | None]:
    """What each snippet prints when called without arguments (decoded as UTF-8), or None when it is not
    one method without parameters, does not compile, throws or runs past `timeout_ms`."""
    results = call_results(snippets, [Calls(((),))] * len(snippets), timeout_ms)
    return [None if calls is None else calls[0][1] for calls in results]
