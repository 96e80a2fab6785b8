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


def test_bench_runs_as_a_package_without_path_edits_or_an_import_loop():
    files = {f.stem: f for f in (ROOT / "bench").glob("*.py")}
    assert not [name for name, f in files.items() if "sys.path" in f.read_text(encoding="utf-8")]
    graph = {}
    for name, f in files.items():
        tree = ast.parse(f.read_text(encoding="utf-8"))
        graph[name] = {
            node.module.split(".")[1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bench.")
        }

    def reaches(start: str, target: str, seen: frozenset = frozenset()) -> bool:
        return any(
            n == target or (n not in seen and reaches(n, target, seen | {n})) for n in graph.get(start, ())
        )

    assert not [name for name in graph if reaches(name, name)]


def test_no_data_module_derives_from_the_task_contract():
    """A task is an object a data module holds (`own_task`, `task`), not a base class it inherits."""
    import inspect

    import datamodules
    from datamodules.sums.chat import SumsChatDataModule
    from modules.task import Task

    classes = [c for _, c in inspect.getmembers(datamodules, inspect.isclass)]
    assert classes and not [c for c in classes if issubclass(c, Task)]
    assert all(isinstance(c().task, Task) for c in classes)  # each holds one (the base class: the default)
    # The chat module overrides nothing of its parent's scoring: it chooses `scored_by` instead.
    assert not {"reference", "task_metric", "task_score", "build_metric", "score"} & set(
        vars(SumsChatDataModule)
    )
