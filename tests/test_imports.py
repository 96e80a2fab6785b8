"""Imports run one way: `lit/` -> `datamodules/` -> `modules/`. The model layer never imports the data
layer or the command line, and the data layer never imports the command line."""

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

# layer -> the top-level packages it must not import
FORBIDDEN = {"modules": {"datamodules", "lit"}, "datamodules": {"lit"}}


def imported_packages(path: Path) -> set[str]:
    """Top-level package names a file imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_never_imports_the_layers_above_it(layer):
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files
    wrong = {str(f.relative_to(ROOT)): sorted(imported_packages(f) & FORBIDDEN[layer]) for f in files}
    assert not {f: names for f, names in wrong.items() if names}


def test_the_check_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "example.py"
    source.write_text("def f():\n    from datamodules.sums import SumsDataModule\n", encoding="utf-8")
    assert imported_packages(source) == {"datamodules"}
