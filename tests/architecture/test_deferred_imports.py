"""An import inside a function says why (issue 13): a cycle it breaks, Django's
``ready()``, the demo loader. The dependency rules count these imports too
(``test_import_contracts``); this keeps each one a decision, not a habit."""

import ast
from pathlib import Path

from tests.architecture.source import PACKAGES, ROOT, source_files


def _project_module(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] in PACKAGES
    return any(alias.name.split(".")[0] in PACKAGES for alias in node.names)


def _deferred_imports_without_a_reason(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    found = []
    for function in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if not isinstance(node, ast.Import | ast.ImportFrom) or not _project_module(node):
                continue
            # The reason: on the import's own lines, or a comment above it in the function.
            own = lines[node.lineno - 1 : node.end_lineno]
            above = lines[function.lineno : node.lineno - 1]
            if not any("#" in line for line in own) and not any(
                line.strip().startswith("#") for line in above
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1]}")
    return found


def test_every_import_inside_a_function_says_why():
    found = [where for path in source_files() for where in _deferred_imports_without_a_reason(path)]
    assert found == [], "import at module level, or say why not:\n" + "\n".join(found)


def test_a_deferred_import_without_a_reason_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr("tests.architecture.test_deferred_imports.ROOT", tmp_path)
    module = tmp_path / "example.py"
    module.write_text(
        "def ready():\n"
        "    from incidents import models\n"
        "\n\n"
        "def later():\n"
        "    from incidents import services  # it imports this module\n"
    )
    assert _deferred_imports_without_a_reason(module) == [
        "example.py:2:     from incidents import models"
    ]
