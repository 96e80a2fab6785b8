"""Compile many generated Java methods with one javac run, and say which ones failed.

What counts: `members` reads the declarations a generation makes (methods with a body, fields), so
a metric can ask for the members the instruction asked for: an empty output, a comment, a lone
field or a class, which javac accepts inside a class too, do not count as a method.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ERROR_LINE = re.compile(r"^Check\.java:(\d+): error:", re.M)


# A method's head: annotations, modifiers, type parameters, a return type, a name, parameters, throws.
METHOD_HEAD = re.compile(
    r"(@[\w.]+(\([^)]*\))?\s*)*"
    r"((public|protected|private|static|final|abstract|synchronized|native|strictfp|default)\s+)*"
    r"(<[^>{};]*>\s*)?"
    r"(?!(new|return|throw|class|interface|enum|record|if|for|while|switch|else|do|try|catch)\b)"
    r"[\w.$]+(\s*<[^{};()]*>)?(\s*\[\s*\])*\s+"  # the return type
    r"[A-Za-z_$][\w$]*\s*\([^(){};]*\)"  # name(parameters)
    r"(\s*throws\s+[\w.$]+(\s*,\s*[\w.$]+)*)?\s*$"
)
LITERALS_AND_COMMENTS = re.compile(r'"(\\.|[^"\\\n])*"|\'(\\.|[^\'\\\n])*\'|//[^\n]*|/\*.*?\*/', re.S)


FIELD = re.compile(
    r"((public|protected|private|static|final|transient|volatile)\s+)*"
    r"[\w.$]+(\s*<[^{};()]*>)?(\s*\[\s*\])*\s+[A-Za-z_$][\w$]*(\s*=[^;{}]*)?\s*;"
)


def members(code: str) -> list[str] | None:
    """The class members `code` declares, in order ("method" with a body, "field"), or None when
    anything in it is neither (a class, a statement, a stray brace, a body-less method).

    Comments count as whitespace; braces and semicolons inside literals do not count.
    """
    bare = LITERALS_AND_COMMENTS.sub(lambda m: '""' if m.group(0)[0] in "\"'" else " ", code).strip()
    found, position = [], 0
    while position < len(bare):
        rest = bare[position:]
        field = FIELD.match(rest)
        brace = rest.find("{")
        if field and (brace < 0 or field.end() <= brace):
            found.append("field")
            position += field.end()
        elif brace >= 0 and METHOD_HEAD.fullmatch(rest[:brace].strip()):
            depth = 0
            for offset, char in enumerate(rest[brace:], brace):  # noqa: B007 (read after the loop)
                depth += {"{": 1, "}": -1}.get(char, 0)
                if depth == 0:
                    break
            if depth:
                return None  # the body never closes
            found.append("method")
            position += offset + 1
        else:
            return None
        while position < len(bare) and bare[position].isspace():
            position += 1
    return found


def is_one_method(code: str) -> bool:
    """Whether `code` is exactly one method declaration with a body (comments around it allowed):
    not an empty output, comments only, a field, a class, a body-less method or several methods."""
    return members(code) == ["method"]


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
    """For each snippet (methods and fields), whether javac accepts it inside a class (a metric that
    counts methods checks `is_one_method` too).

    All snippets go into one compilation unit, each in its own static nested class; javac's error
    lines map back to snippets. Snippets blamed in one run are dropped and the rest compiled again,
    so an error that cascades cannot count against a good snippet. Where that does not settle it (errors
    javac reports on no snippet's line, or still failing after `max_runs`), the rest is compiled in
    halves until each group compiles or is one snippet: a snippet fails only for its own errors (a set
    of many broken generations once scored every generation of it as not compiling).
    """
    ok = [braces_balance(s) for s in snippets]
    pending = [i for i, good in enumerate(ok) if good]
    with tempfile.TemporaryDirectory(prefix="lit-javac-") as tmp:

        def run(group: list[int]) -> tuple[bool, set]:
            """Compile `group`; whether javac accepted it, and the snippets its error lines fall in."""
            lines, owner = ["public class Check {"], [None]
            for i in group:
                block = [f"static class M{i} {{", *snippets[i].splitlines(), "}"]
                lines += block
                owner += [i] * len(block)
            lines.append("}")
            owner.append(None)
            source = Path(tmp) / "Check.java"
            source.write_text("\n".join(lines) + "\n", encoding="utf-8")
            done = subprocess.run(
                ["javac", "-nowarn", "-Xmaxerrs", "100000", "-encoding", "UTF-8", "-d", ".", source.name],
                capture_output=True,
                text=True,
                cwd=tmp,
            )
            blamed = {owner[int(n) - 1] for n in ERROR_LINE.findall(done.stdout + done.stderr)}
            return done.returncode == 0, blamed - {None}

        def settle(group: list[int]) -> None:
            accepted, _ = run(group)
            if accepted:
                return
            if len(group) == 1:
                ok[group[0]] = False
                return
            settle(group[: len(group) // 2])
            settle(group[len(group) // 2 :])

        for _ in range(max_runs):
            if not pending:
                return ok
            accepted, blamed = run(pending)
            if accepted:
                return ok
            if not blamed:  # an error on no snippet's line: settled below
                break
            for i in blamed:
                ok[i] = False
            pending = [i for i in pending if i not in blamed]
        if pending:
            settle(pending)
    return ok
