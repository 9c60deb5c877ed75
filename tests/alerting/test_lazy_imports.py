"""Receiver SDKs (slack_sdk, pagerduty, apprise) load only when a receiver uses them: alerting is
imported by every `serve`, most of which page through one receiver or none."""

from __future__ import annotations

import ast
from pathlib import Path

ALERTING = Path(__file__).resolve().parents[2] / "alerting"
LAZY = ("slack_sdk", "pagerduty", "apprise")


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, id(node) in top) for alias in node.names)
    return found


def test_receiver_sdks_are_imported_only_when_a_receiver_uses_them() -> None:
    eager = [
        f"{path.relative_to(ALERTING)}: {module}"
        for path in ALERTING.rglob("*.py")
        for module, top_level in imports(path)
        if top_level and module.startswith(LAZY)
    ]
    assert eager == []
