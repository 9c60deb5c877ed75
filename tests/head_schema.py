"""Databases at the head schema without running Alembic again for every test.

The first database of each backend in a session is migrated by Alembic, the real way;
later ones get a copy of the result: the SQLite file is copied with the backup API, and
on PostgreSQL the statements that migration executed (captured from SQLAlchemy) are
replayed in one transaction. The migrations themselves are tested on empty databases
in tests/runner/store/test_migrations.py.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

from runner.store import migrate
from runner.store.database import parse_url
from tests import pg

Statement = tuple[str, Any]


class HeadSchema:
    """Brings empty databases to the head schema; Alembic runs once per backend."""

    def __init__(self, workdir: Path) -> None:
        self._sqlite_template = workdir / "head.db"
        self._postgresql: list[Statement] | None = None

    def apply(self, db_url: str) -> None:
        """Create the head schema in the empty database at ``db_url``."""
        parsed = parse_url(db_url)
        if parsed.path is not None:
            self._copy_sqlite(parsed.path)
        elif self._postgresql is None:
            self._postgresql = _captured_upgrade(db_url)
        else:
            _replay(db_url, self._postgresql)

    def _copy_sqlite(self, path: str) -> None:
        if not self._sqlite_template.exists():
            migrate.upgrade(f"sqlite:///{self._sqlite_template}")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with (
            closing(sqlite3.connect(self._sqlite_template)) as source,
            closing(sqlite3.connect(path)) as target,
        ):
            source.backup(target)


def _captured_upgrade(db_url: str) -> list[Statement]:
    from sqlalchemy import event  # only sessions that use PostgreSQL pay for it
    from sqlalchemy.engine import Engine

    statements: list[Statement] = []

    def capture(*args: Any) -> None:
        _connection, _cursor, statement, parameters, _context, _many = args
        statements.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        migrate.upgrade(db_url)
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    return statements


def _replay(db_url: str, statements: list[Statement]) -> None:
    with psycopg.connect(pg.conninfo(db_url)) as connection:  # commits on leaving
        for statement, parameters in statements:
            connection.execute(statement, parameters)
