"""docs/architecture.md matches the code: its layers are the import contract in
pyproject.toml, its graph is the app-level imports as grimp finds them (imports inside
functions included), and every registration point it names exists."""

import importlib
import re
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()
CONTRACT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _block(info: str) -> str:
    match = re.search(rf"```{re.escape(info)}\n(.*?)```", DOC, re.S)
    assert match, f"docs/architecture.md has no ```{info} block"
    return match.group(1)


def _layers_contract() -> dict:
    return next(c for c in CONTRACT["contracts"] if c["type"] == "layers")


def test_the_layers_on_the_page_are_the_contract_ci_checks():
    documented = [line.strip() for line in _block("text layers").splitlines() if line.strip()]
    assert documented == _layers_contract()["layers"]


def _app_edges() -> set[tuple[str, str, bool]]:
    packages = CONTRACT["root_packages"]
    graph = grimp.build_graph(*packages)
    ignored = {
        tuple(part.strip() for part in rule.split("->"))
        for rule in _layers_contract().get("ignore_imports", [])
    }
    edges: dict[tuple[str, str], bool] = {}
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            pair = (importer.split(".")[0], imported.split(".")[0])
            if pair[0] == pair[1]:
                continue
            exception = (importer, imported) in ignored
            edges[pair] = edges.get(pair, True) and exception
    return {(a, b, only_exceptions) for (a, b), only_exceptions in edges.items()}


def test_the_graph_on_the_page_is_the_imports_in_the_code():
    expected = sorted(f"  {a} {'-.->' if dotted else '-->'} {b}" for a, b, dotted in _app_edges())
    documented = [
        line for line in _block("mermaid").splitlines() if "-->" in line or "-.->" in line
    ]
    assert documented == expected, "the graph is now:\n" + "\n".join(expected)


def test_every_registration_point_named_exists():
    table = DOC.split("### How a lower layer hears from a higher one", 1)[1].split("##", 1)[0]
    names = re.findall(r"`((?:common|incidents|notifications)\.[\w.]+)`", table)
    assert len(names) >= 6
    for dotted in names:
        module_name, attribute = dotted.rsplit(".", 1)
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attribute)), dotted
    lifecycle = importlib.import_module("incidents.lifecycle")
    assert callable(lifecycle.register_closing_check)
    health = importlib.import_module("common.health")
    assert callable(health.register_local)
