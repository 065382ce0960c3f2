"""The import layers of docs/layout.md: core_gan <- translation <- gansuite <- apps, nothing upwards but
the CLI launching the apps."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["core_gan", "translation", "gansuite", "apps", "recipes", "benchmarks"]
ALLOWED_UP = {("gansuite/cli.py", "apps"), ("gansuite/commands.py", "apps")}
"""The CLI reads the apps' names (apps.tabs) and launches them."""


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


@pytest.mark.parametrize("package", LAYERS[:4])
def test_no_package_imports_one_above_it(package):
    level = LAYERS.index(package)
    upward = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        for other in imported_packages(path):
            if LAYERS.index(other) > level and (relative, other) not in ALLOWED_UP:
                upward.append(f"{relative} imports {other}")
    assert not upward
