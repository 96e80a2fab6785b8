"""Every `python -m lit ...` and `python -m bench....` command in README.md and docs/ runs: LightningCLI
commands parse their configs (`--print_config`), the others answer `--help` after their arguments. The
commands of docs/tasks.md, whose files the guide writes, run in tests/test_tasks_guide.py."""

import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

from lit.cli import cli_main
from tests.helpers import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LIGHTNING = ("fit", "validate", "test", "predict")


def commands(path: Path) -> list[str]:
    """The commands a page shows: lines of its shell blocks (continuations joined) and inline code."""
    text = path.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            found += [part.strip() for part in line.split("  #")[0].split("&&")]
    found += re.findall(r"`(python -m (?:lit|bench)[^`]*)`", text)
    return [c for c in found if c.startswith(("python -m lit", "python -m bench"))]


CASES = [(path.name, command) for path in DOCS if path.name != "tasks.md" for command in commands(path)]


def test_the_pages_show_commands():
    assert len(CASES) > 20 and {name for name, _ in CASES} >= {"README.md", "devices.md", "benchmarks.md"}


@pytest.mark.parametrize("page, command", CASES)
def test_a_documented_command_runs(page, command, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    module, *args = shlex.split(command.removeprefix("python -m "))
    if module == "lit" and args and args[0] in LIGHTNING:
        configs = [args[i + 1] for i, arg in enumerate(args) if arg == "--config"]
        if all((ROOT / config).is_file() for config in configs):
            args = [arg for arg in args if arg != "--print_config"] + ["--print_config"]
        else:  # a placeholder config (FILE): the subcommand itself must exist
            args = args[:1] + ["--help"]
    else:
        args = args + ["--help"]
    with pytest.raises(SystemExit) as exit:
        if module == "lit":
            cli_main(args)
        else:
            monkeypatch.setattr(sys, "argv", [module, *args])
            runpy.run_module(module, run_name="__main__")
    assert exit.value.code in (0, None), capsys.readouterr().err[-2000:]
