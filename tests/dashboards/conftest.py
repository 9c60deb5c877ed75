"""Seeded stores for the dashboard: on every backend for the queries, on SQLite for the
app (AppTest runs the app in this process, against a file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from dashboards.database import connect_readonly
from runner.store.store import Store
from tests.dashboards.seed import Seeded, seed
from tests.head_schema import HeadSchema


@pytest.fixture
def seeded(store: Store, tmp_path: Path) -> Seeded:
    """The seeded store, on each backend."""
    return seed(store, tmp_path / "logs")


@pytest.fixture
def conn(db_url: str, seeded: Seeded) -> Iterator[Connection]:
    """A read-only connection to the seeded store, as the dashboard opens it."""
    engine = connect_readonly(db_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, head_schema: HeadSchema) -> str:
    """A seeded SQLite store's URL."""
    url = f"sqlite:///{tmp_path / 'runwatch.db'}"
    head_schema.apply(url)
    with Store.open(url) as store:
        seed(store, tmp_path / "logs")
    return url
