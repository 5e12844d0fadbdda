"""The benchmarks are scripts CI does not run, so a moved module breaks them
silently (benchmarks/scale.py still imported incidents.permissions after it moved
to common.roles). Every project name they import, at the top or inside a
function, must resolve."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"common", "incidents", "notifications", "statuspage", "postmortems", "reports"}
PROJECT |= {"workspace", "config", "tests", "benchmarks"}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PROJECT:
                yield node.lineno, node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT:
                    yield node.lineno, alias.name, []


@pytest.mark.parametrize(
    "script", sorted(p.name for p in (ROOT / "benchmarks").glob("*.py")), ids=str
)
def test_every_project_import_of_a_benchmark_resolves(script):
    problems = []
    for line, module_name, names in _imports(ROOT / "benchmarks" / script):
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            problems.append(f"line {line}: {module_name}: {error}")
            continue
        for name in names:
            if hasattr(module, name):
                continue
            try:
                importlib.import_module(f"{module_name}.{name}")
            except ImportError:
                problems.append(f"line {line}: {module_name} has no {name}")
    assert not problems, f"benchmarks/{script}:\n" + "\n".join(problems)
