"""A lean DB-API connection to SQLite or PostgreSQL, addressed by a SQLAlchemy-style URL.

Importing SQLAlchemy costs ~230 ms, more than a whole ``runwatch run`` may take, so the
store talks DB-API (sqlite3, psycopg 3) on its hot paths and keeps SQLAlchemy and Alembic
for the schema and its migrations. SQL is written once, with ``:name`` parameters, in
the subset both databases share; this module adapts it to each driver.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from runner.errors import StoreError

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# Any constant will do: it only has to be the same in every runwatch process.
_EVENT_LOCK_KEY = 0x72756E77


class _Cursor(Protocol):
    def fetchall(self) -> Sequence[Sequence[Any]]: ...
    def fetchone(self) -> Sequence[Any] | None: ...
    @property
    def rowcount(self) -> int: ...


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL: ``sqlite:///path`` or ``postgresql[+psycopg]://…``."""

    dialect: str
    raw: str
    path: str | None = None

    @property
    def redacted(self) -> str:
        """The URL with any password replaced by ``***``, safe for logs and errors."""
        return redact_url(self.raw)


def redact_url(url: str) -> str:
    """Hide the password of a URL, for messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def parse_url(url: str) -> DatabaseURL:
    """Parse and check a database URL; raise StoreError naming what is unsupported."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        if not url.startswith("sqlite:///"):
            raise StoreError(f"database URL {redact_url(url)!r}: expected sqlite:///PATH")
        path = unquote(urlsplit(url).path)
        # sqlite:///relative and sqlite:////absolute, as SQLAlchemy reads them
        path = path[1:] if path.startswith("/") else path
        if not path or path == ":memory:":
            raise StoreError(f"database URL {redact_url(url)!r}: a file path is required")
        return DatabaseURL("sqlite", url, path)
    if scheme in ("postgresql", "postgresql+psycopg", "postgres"):
        return DatabaseURL("postgresql", url)
    raise StoreError(
        f"database URL {redact_url(url)!r}: unsupported scheme {scheme!r} "
        "(use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)"
    )


def sqlalchemy_url(url: DatabaseURL) -> str:
    """The URL with the driver SQLAlchemy should use (psycopg 3 for PostgreSQL)."""
    if url.dialect == "postgresql":
        return "postgresql+psycopg://" + url.raw.split("://", 1)[1]
    return url.raw


class Database:
    """One connection with explicit, nestable write transactions."""

    def __init__(self, url: DatabaseURL, *, busy_timeout: float = 10.0) -> None:
        self.url = url
        self._depth = 0
        self._event_lock_taken = False
        try:
            if url.dialect == "sqlite":
                self._conn: Any = self._connect_sqlite(url, busy_timeout)
            else:
                self._conn = self._connect_postgresql(url)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {url.redacted}: {exc}") from exc

    @staticmethod
    def _connect_sqlite(url: DatabaseURL, busy_timeout: float) -> sqlite3.Connection:
        assert url.path is not None
        Path(url.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            url.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL is durable across process crashes; only power loss can drop the tail.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @staticmethod
    def _connect_postgresql(url: DatabaseURL) -> Any:
        import psycopg  # noqa: PLC0415 - only PostgreSQL users pay for it

        conninfo = "postgresql://" + url.raw.split("://", 1)[1]
        try:
            return psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open database {url.redacted}: {exc}") from exc

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded SQLite store."""
        return self.url.dialect == "sqlite"

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def _sql(self, sql: str) -> str:
        if self.is_sqlite:
            return sql
        return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> _Cursor:
        """Run one statement with ``:name`` parameters."""
        cursor: _Cursor = self._conn.execute(self._sql(sql), dict(params or {}))
        return cursor

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement for many parameter sets."""
        if not rows:
            return
        if self.is_sqlite:
            self._conn.executemany(sql, rows)
        else:
            with self._conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts."""
        cur: Any = self._conn.execute(self._sql(sql), dict(params or {}))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run a query and return the first column of its first row, or None."""
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction; nested calls join the outer one, which commits once."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE" if self.is_sqlite else "BEGIN")
        self._depth = 1
        self._event_lock_taken = False
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self._conn.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        """True inside ``transaction()``."""
        return self._depth > 0

    def serialize_event_writes(self) -> None:
        """Make event ids commit in id order, so a consumer's cursor never skips one.

        SQLite serializes writers already. On PostgreSQL, sequence values are handed out
        before commit, so without this a reader could see id 11 before id 10 commits.
        """
        if self.is_sqlite or self._event_lock_taken:
            return
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_EVENT_LOCK_KEY,))
        self._event_lock_taken = True

    def table_exists(self, name: str) -> bool:
        """True when the table exists."""
        if self.is_sqlite:
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"
        else:
            sql = "SELECT 1 FROM information_schema.tables WHERE table_name = :name " \
                "AND table_schema = current_schema()"
        return self.scalar(sql, {"name": name}) is not None
