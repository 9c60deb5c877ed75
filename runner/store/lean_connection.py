"""A short-tempered connection to the store for wrapped runs (wrap's lean path).

On SQLite (the default) this is ``sqlite3`` itself with the pragmas of
``runner.store.database.Database``, because that module's imports (dataclasses, logging)
cost more than a wrapped ``true`` may add; it imports nothing else of the store.
PostgreSQL goes through ``Database``: psycopg costs more than either. Both answer the
small interface the recorder needs, raise StoreError, and give up on a locked or
unreachable store after ``timeout`` seconds, so the wrapped command is never held up
for long.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from urllib.parse import unquote, urlsplit

from runner.errors import StoreError, refused_for_good
from runner.filemodes import private_file

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Connection(Protocol):
        """What the recorder needs of a store connection (``Database`` has it too)."""

        @property
        def is_sqlite(self) -> bool: ...
        def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...
        def rows(
            self, sql: str, params: Mapping[str, Any] | None = None
        ) -> list[dict[str, Any]]: ...
        def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...
        def transaction(self) -> Any: ...
        def serialize_event_writes(self) -> None: ...
        def close(self) -> None: ...

    class _Executes(Protocol):
        def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...


class RowReads:
    """``rows`` and ``scalar`` over the ``execute`` (a DB-API cursor) of the class: this
    module's ``SqliteConnection`` and ``runner.store.database.Database`` share them."""

    def rows(
        self: _Executes, sql: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts."""
        cur = self.execute(sql, params)
        try:
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            cur.close()

    def scalar(self: _Executes, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run a statement and return the first column of its first row, or None.

        The cursor is closed at once: an unfinished ``RETURNING`` statement would keep
        SQLite from committing.
        """
        cur = self.execute(sql, params)
        try:
            row = cur.fetchone()
        finally:
            cur.close()
        return None if row is None else row[0]


class SqliteConnection(RowReads):
    """One SQLite connection with ``:name`` parameters and BEGIN IMMEDIATE transactions."""

    is_sqlite = True

    def __init__(self, path: str, *, timeout: float) -> None:
        self.path = path
        try:
            private_file(path)  # SQLite gives its -wal and -shm files the same mode
            self._conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"database {path}: {exc}") from exc

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> sqlite3.Cursor:
        """Run one statement; sqlite3 errors become StoreError."""
        try:
            return self._conn.execute(sql, dict(params or {}))
        except sqlite3.Error as exc:
            raise StoreError(
                f"database {self.path}: {exc}", permanent=refused_for_good(exc)
            ) from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; rolled back when the block raises."""
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.execute("COMMIT")
        except BaseException:
            # With no transaction left to roll back, the error that brought us here wins.
            with suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise

    def serialize_event_writes(self) -> None:
        """SQLite's write lock already orders event ids."""

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///PATH`` URL (as runner.store.database reads it), else None."""
    if not url.startswith("sqlite:///"):
        return None
    path = unquote(urlsplit(url).path)
    path = path[1:] if path.startswith("/") else path
    return path if path and path != ":memory:" else None


def connect(url: str, *, timeout: float) -> Connection:
    """A connection to the store at ``url`` that waits at most ``timeout`` seconds for a lock
    (or, on PostgreSQL, to connect); StoreError when that is not enough."""
    path = sqlite_path(url)
    if path is not None:
        return SqliteConnection(path, timeout=timeout)
    from runner.store.database import Database, parse_url

    parsed = parse_url(url)
    if parsed.dialect == "postgresql" and "connect_timeout=" not in url:
        parsed = parse_url(
            f"{url}{'&' if '?' in url else '?'}connect_timeout={max(1, int(timeout))}"
        )
    db = Database(parsed, busy_timeout=timeout)
    if not db.is_sqlite:
        db.execute(f"SET lock_timeout = {int(timeout * 1000)}")
    return db
