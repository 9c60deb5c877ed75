"""Fixtures shared by every test package.

``db_url`` is a URL to an empty database, once per backend: ``sqlite`` (a file under
``tmp_path``) and ``postgresql`` (a fresh schema, dropped afterwards; skipped when the
server is unreachable, except on CI). ``store`` is ``Store.open(db_url)`` at the head
schema, closed after the test. Select one backend with ``-k sqlite`` / ``-k postgresql``
or ``-m "not postgresql"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.store.store import Store
from tests import pg
from tests.head_schema import HeadSchema


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: needs the PostgreSQL test server")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database, for each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runwatch.db'}"
        return
    with pg.temporary_schema() as url:
        yield url


@pytest.fixture(scope="session")
def head_schema(tmp_path_factory: pytest.TempPathFactory) -> HeadSchema:
    """Creates the head schema in an empty database faster than migrating it."""
    return HeadSchema(tmp_path_factory.mktemp("head-schema"))


@pytest.fixture
def store(db_url: str, head_schema: HeadSchema) -> Iterator[Store]:
    """The store at ``db_url``, at the head schema; closed after the test."""
    head_schema.apply(db_url)
    opened = Store.open(db_url)
    yield opened
    opened.close()
