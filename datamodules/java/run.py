"""Run generated print methods and read what they print: a score that looks at behaviour, not text.

A method that prints `¡Hola, Vórtice!` must print exactly that; comparing the text of the method
would also fail a method that prints the right thing under another name, and pass none that drops
an accent. Every snippet that is one method without parameters is compiled into one class and called
in one JVM, each call with its own captured output and a time limit.
"""

from __future__ import annotations

import base64
import re
import subprocess
import tempfile
from pathlib import Path

from datamodules.java.javac import compile_snippets, is_one_method

NO_ARGUMENTS = re.compile(r"\b\w+\s*\(\s*\)\s*(throws[^{]*)?\{")

HARNESS = """
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.util.Base64;

public class Run {
%(classes)s
    public static void main(String[] args) throws Exception {
        PrintStream terminal = System.out;
        Class<?>[] snippets = {%(names)s};
        int[] indices = {%(indices)s};
        for (int k = 0; k < snippets.length; k++) {
            String printed = "-";
            try {
                Method method = null;
                for (Method m : snippets[k].getDeclaredMethods()) if (!m.isSynthetic()) method = m;
                method.setAccessible(true);
                ByteArrayOutputStream buffer = new ByteArrayOutputStream();
                System.setOut(new PrintStream(buffer, true, "UTF-8"));
                Method target = method;
                Thread call = new Thread(() -> {
                    try { target.invoke(null); } catch (Throwable t) { buffer.reset(); buffer.write('\\0'); }
                });
                call.setDaemon(true);
                call.start();
                call.join(%(timeout_ms)d);
                if (!call.isAlive()) {
                    byte[] bytes = buffer.toByteArray();
                    boolean failed = bytes.length == 1 && bytes[0] == 0;
                    if (!failed) printed = Base64.getEncoder().encodeToString(bytes);
                }
            } catch (Throwable t) {
                printed = "-";
            }
            System.setOut(terminal);
            terminal.println(indices[k] + " " + printed);
        }
        System.exit(0);  // a call still running past its limit must not keep the JVM alive
    }
}
"""


def is_runnable(code: str) -> bool:
    """One static method without parameters: the shape a print instruction asks for."""
    return is_one_method(code) and "static" in code.split("(", 1)[0] and bool(NO_ARGUMENTS.search(code))


def printed_outputs(snippets: list[str], timeout_ms: int = 2000) -> list[str | None]:
    """What each snippet prints when called (decoded as UTF-8), or None when it is not one static
    method without parameters, does not compile, throws or runs past `timeout_ms`."""
    results: list[str | None] = [None] * len(snippets)
    runnable = [i for i, code in enumerate(snippets) if is_runnable(code)]
    compiled = compile_snippets([snippets[i] for i in runnable]) if runnable else []
    chosen = [i for i, ok in zip(runnable, compiled) if ok]
    if not chosen:
        return results
    classes = "\n".join(f"    static class M{i} {{\n{snippets[i]}\n    }}" for i in chosen)
    source = HARNESS % {
        "classes": classes,
        "names": ", ".join(f"M{i}.class" for i in chosen),
        "indices": ", ".join(str(i) for i in chosen),
        "timeout_ms": timeout_ms,
    }
    with tempfile.TemporaryDirectory(prefix="lit-java-run-") as tmp:
        Path(tmp, "Run.java").write_text(source, encoding="utf-8")
        build = subprocess.run(
            ["javac", "-nowarn", "-encoding", "UTF-8", "-d", ".", "Run.java"],
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        if build.returncode != 0:  # each compiled alone above: a clash between snippets, count none
            return results
        timeout_s = 30 + len(chosen) * timeout_ms / 1000
        run = subprocess.run(
            ["java", "-cp", ".", "Run"], capture_output=True, text=True, cwd=tmp, timeout=timeout_s
        )
    for line in run.stdout.splitlines():
        index, _, printed = line.partition(" ")
        if printed and printed != "-":
            results[int(index)] = base64.b64decode(printed).decode("utf-8", errors="replace")
    return results
