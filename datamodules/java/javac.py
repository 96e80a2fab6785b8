"""Compile many generated Java methods with one javac run, and say which ones failed."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ERROR_LINE = re.compile(r"^Check\.java:(\d+): error:", re.M)


def javac_available() -> bool:
    return shutil.which("javac") is not None


def braces_balance(code: str) -> bool:
    """Whether braces balance outside string and char literals (so one snippet cannot swallow the next)."""
    depth = 0
    for token in re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', '""', code):
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            return False
    return depth == 0


def compile_snippets(snippets: list[str], max_runs: int = 3) -> list[bool]:
    """For each snippet (methods and fields), whether javac accepts it inside a class.

    All snippets go into one compilation unit, each in its own static nested class; javac's error
    lines map back to snippets. Snippets blamed in one run are dropped and the rest compiled again,
    so an error that cascades cannot count against a good snippet.
    """
    ok = [braces_balance(s) for s in snippets]
    pending = [i for i, good in enumerate(ok) if good]
    with tempfile.TemporaryDirectory(prefix="lit-javac-") as tmp:
        for _ in range(max_runs):
            if not pending:
                break
            lines, owner = ["public class Check {"], [None]
            for i in pending:
                block = [f"static class M{i} {{", *snippets[i].splitlines(), "}"]
                lines += block
                owner += [i] * len(block)
            lines.append("}")
            owner.append(None)
            source = Path(tmp) / "Check.java"
            source.write_text("\n".join(lines) + "\n", encoding="utf-8")
            run = subprocess.run(
                ["javac", "-nowarn", "-Xmaxerrs", "100000", "-encoding", "UTF-8", "-d", ".", source.name],
                capture_output=True, text=True, cwd=tmp,
            )  # fmt: skip
            if run.returncode == 0:
                break
            blamed = {owner[int(n) - 1] for n in ERROR_LINE.findall(run.stdout + run.stderr)}
            blamed.discard(None)
            if not blamed:  # an error we cannot place: count every pending snippet as failed
                blamed = set(pending)
            for i in blamed:
                ok[i] = False
            pending = [i for i in pending if i not in blamed]
        else:
            for i in pending:  # still failing after max_runs
                ok[i] = False
    return ok
