"""dashboards reads the store and nothing else of runwatch: no engine, no alerting."""

from __future__ import annotations

import ast
from pathlib import Path

import dashboards

ALLOWED_RUNNER = ("runner.store", "runner.model")
"""The store's public API and the state enums its records carry."""
FORBIDDEN = ("alerting", "runner")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_dashboards_imports_only_the_store_of_runwatch() -> None:
    package = Path(dashboards.__file__).parent
    offending = {
        f"{path.relative_to(package.parent)}: {name}"
        for path in package.rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN and not name.startswith(ALLOWED_RUNNER)
    }

    assert offending == set()
