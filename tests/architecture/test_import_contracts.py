"""The dependency rules in pyproject.toml ([tool.importlinter], docs/architecture.md)
hold, and breaking one fails: a copy of the source with one forbidden import added —
deferred inside a function, where imports used to hide — is refused by lint-imports."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.architecture.source import PACKAGES, ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _copy_source(to: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, to / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_forbidden_import_inside_a_function_breaks_the_layers(tmp_path):
    _copy_source(tmp_path)
    kept = _lint(tmp_path)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "0 broken" in kept.stdout

    with (tmp_path / "common" / "formatting.py").open("a") as module:
        module.write(
            "\n\ndef _sneaky():\n"
            "    from incidents.services import incident_declare\n\n"
            "    return incident_declare\n"
        )
    broken = _lint(tmp_path)
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout
    assert "common.formatting -> incidents.services" in broken.stdout
