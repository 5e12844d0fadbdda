"""The project's source as the architecture tests read it: the packages are the
import-linter contract's ``root_packages`` (pyproject.toml), one list for every rule."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
)


def source_files():
    """Every Python module of the packages, migrations left out, in a stable order."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path
