"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """RUNWATCH_HOME of the `runwatch` processes a test starts."""
    return tmp_path / "home"
