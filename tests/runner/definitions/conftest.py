"""Helpers for definition tests: job files written to tmp_path, imports kept isolated."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.definitions import load_definitions
from runner.errors import DefinitionError
from runner.model import Definitions

Write = Callable[[str, str], Path]


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Undo what loading user code does to sys.path and sys.modules."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name, module in list(sys.modules.items()):
        origin = str(getattr(module, "__file__", None) or "")
        if name.startswith("runwatch_jobs_") or origin.startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a dedented file under tmp_path and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return write


@pytest.fixture
def load(write: Write) -> Callable[[str], Definitions]:
    """Load one YAML job file given as text."""

    def load(text: str) -> Definitions:
        return load_definitions([write("jobs.yaml", text)])

    return load


@pytest.fixture
def error(write: Write, tmp_path: Path) -> Callable[..., str]:
    """The message of the DefinitionError loading a file raises, with tmp_path removed."""

    def error(text: str, name: str = "jobs.yaml", kind: type[Exception] = DefinitionError) -> str:
        with pytest.raises(kind) as caught:
            load_definitions([write(name, text)])
        return str(caught.value).replace(f"{tmp_path}/", "")

    return error
