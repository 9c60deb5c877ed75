"""A lean DB-API connection to SQLite or PostgreSQL, addressed by a SQLAlchemy-style URL.

Importing SQLAlchemy costs ~230 ms, more than a whole ``runwatch run`` may take, so the
store talks DB-API (sqlite3, psycopg 3) on its hot paths and keeps SQLAlchemy and Alembic
for the schema and its migrations. SQL is written once, with ``:name`` parameters, in
the subset both databases share; this module adapts it to each driver.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from runner.errors import StoreError, refused_for_good
from runner.filemodes import private_file
from runner.store.integrity import corrupt_advice, is_corrupt
from runner.store.lean_connection import RowReads

logger = logging.getLogger(__name__)

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# Any constant will do: it only has to be the same in every runwatch process.
_EVENT_LOCK_KEY = 0x72756E77
# libpq waits forever for an unreachable host by default; fail at startup instead.
_DEFAULT_CONNECT_TIMEOUT = 10


class _Cursor(Protocol):
    def fetchall(self) -> Sequence[Sequence[Any]]: ...
    def fetchone(self) -> Sequence[Any] | None: ...
    def close(self) -> None: ...
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

    def scrub(self, message: object) -> str:
        """``message`` with this URL's password (in any spelling) replaced by ``***``."""
        return scrub_secrets(str(message), self.raw)


# user:password@ up to the last @ before the query, so an unencoded @ or / is hidden too
_USERINFO_PASSWORD = re.compile(r"(://[^:/?#@]*:)[^?#]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """Hide the password of a URL (user info or ``password=`` query option), for messages."""
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", url))


def _passwords(url: str) -> set[str]:
    found: set[str] = set()
    match = re.search(r"://[^:/?#@]*:([^?#]*)@", url)
    if match:
        found.add(match.group(1))
    query = url.split("?", 1)[1] if "?" in url else ""
    found.update(v for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() == "password")
    found.update({unquote(p) for p in found})
    return {p for p in found if p}


def scrub_secrets(message: str, url: str) -> str:
    """Replace the URL (and its password, raw or decoded) wherever it appears in ``message``.

    Driver errors may echo parts of a connection string, so a redacted URL alone is not
    enough to keep a password out of an error message.
    """
    message = message.replace(url, redact_url(url))
    for password in sorted(_passwords(url), key=len, reverse=True):
        message = message.replace(password, "***")
    return message


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
        before_query = url.split("://", 1)[1].split("?", 1)[0]
        userinfo = before_query.rsplit("@", 1)[0] if "@" in before_query else ""
        if "@" in userinfo or "/" in userinfo:
            # libpq and SQLAlchemy split such a URL differently: refuse to guess.
            raise StoreError(
                f"database URL {redact_url(url)!r}: percent-encode '@' and '/' in the user "
                "name or password (as %40 and %2F)"
            )
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


def libpq_conninfo(url: DatabaseURL) -> str:
    """The URL as libpq reads it; its query options (``options=-csearch_path%3D…``,
    ``sslmode``, ``connect_timeout`` …) are passed on as SQLAlchemy passes them."""
    return "postgresql://" + url.raw.split("://", 1)[1]


def _failure_text(prefix: str, url: DatabaseURL, exc: BaseException) -> str:
    """``prefix URL: error``, with what to do when the SQLite file is corrupt."""
    message = f"{prefix} {url.redacted}: {url.scrub(exc)}"
    if url.path is not None and is_corrupt(exc):
        message = f"{message}: {corrupt_advice(url.path)}"
    return message


class Database(RowReads):
    """One connection with explicit, nestable write transactions.

    The outermost ``transaction()`` is BEGIN … COMMIT; a nested one is a SAVEPOINT, so
    when an inner block fails (and the caller handles the error) only its own writes
    are undone and the outer transaction stays usable on both databases.
    """

    def __init__(self, url: DatabaseURL, *, busy_timeout: float = 10.0) -> None:
        self.url = url
        self._depth = 0
        self._event_lock_depth: int | None = None
        self._driver_errors: tuple[type[Exception], ...] = (sqlite3.Error,)
        try:
            if url.dialect == "sqlite":
                self._conn: Any = self._connect_sqlite(url, busy_timeout)
            else:
                self._conn = self._connect_postgresql(url)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(_failure_text("cannot open database", url, exc)) from exc

    @staticmethod
    def _connect_sqlite(url: DatabaseURL, busy_timeout: float) -> sqlite3.Connection:
        assert url.path is not None
        private_file(url.path)  # SQLite gives its -wal and -shm files the same mode
        conn = sqlite3.connect(
            url.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL is durable across process crashes; only power loss can drop the tail.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _connect_postgresql(self, url: DatabaseURL) -> Any:
        import psycopg  # only PostgreSQL users pay for importing it

        self._driver_errors = (psycopg.Error,)
        conninfo = libpq_conninfo(url)
        extra: dict[str, Any] = {}
        if "connect_timeout" not in conninfo:
            extra["connect_timeout"] = _DEFAULT_CONNECT_TIMEOUT
        try:
            return psycopg.connect(conninfo, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open database {url.redacted}: {url.scrub(exc)}") from exc

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded SQLite store."""
        return self.url.dialect == "sqlite"

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back)."""
        self._conn.close()

    def _fail(self, exc: Exception) -> NoReturn:
        message = _failure_text("database", self.url, exc)
        raise StoreError(message, permanent=refused_for_good(exc)) from exc

    def _sql(self, sql: str) -> str:
        if self.is_sqlite:
            return sql
        return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> _Cursor:
        """Run one statement with ``:name`` parameters; driver errors become StoreError."""
        try:
            cursor: _Cursor = self._conn.execute(self._sql(sql), dict(params or {}))
        except self._driver_errors as exc:
            self._fail(exc)
        return cursor

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement for many parameter sets."""
        if not rows:
            return
        try:
            if self.is_sqlite:
                self._conn.executemany(sql, rows)
            else:
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)
        except self._driver_errors as exc:
            self._fail(exc)

    def _command(self, sql: str) -> None:
        try:
            self._conn.execute(sql)
        except self._driver_errors as exc:
            self._fail(exc)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction; a nested one is a savepoint inside the outer transaction.

        Nothing is committed before the outermost block ends. An exception leaving any
        block undoes that block's writes and propagates.
        """
        depth = self._depth
        rollback: tuple[str, ...]
        if depth == 0:
            begin = "BEGIN IMMEDIATE" if self.is_sqlite else "BEGIN"
            commit, rollback = "COMMIT", ("ROLLBACK",)
        else:
            name = f"rw_savepoint_{depth}"
            begin, commit = f"SAVEPOINT {name}", f"RELEASE SAVEPOINT {name}"
            rollback = (f"ROLLBACK TO SAVEPOINT {name}", f"RELEASE SAVEPOINT {name}")
        self._command(begin)
        self._depth = depth + 1
        try:
            yield
        except BaseException:
            self._end(depth, rollback, committed=False)
            raise
        try:
            self._command(commit)
        except BaseException:
            self._end(depth, rollback, committed=False)
            raise
        self._end(depth, (), committed=True)

    def _end(self, depth: int, statements: Sequence[str], *, committed: bool) -> None:
        self._depth = depth
        lock = self._event_lock_depth
        if depth == 0:
            self._event_lock_depth = None
        elif lock is not None and lock > depth:
            # A released savepoint hands its locks to the enclosing transaction; a rolled
            # back one releases them (PostgreSQL frees locks taken in an aborted subxact).
            self._event_lock_depth = depth if committed else None
        for sql in statements:
            try:
                self._conn.execute(sql)
            except self._driver_errors as exc:
                # The original error matters more; a dead connection fails the next call.
                logger.warning("%s failed on %s: %s", sql, self.url.redacted, self.url.scrub(exc))
                return

    @property
    def in_transaction(self) -> bool:
        """True inside ``transaction()``."""
        return self._depth > 0

    def serialize_event_writes(self) -> None:
        """Make event ids commit in id order, so a consumer's cursor never skips one.

        SQLite serializes writers already. On PostgreSQL, sequence values are handed out
        before commit, so without this a reader could see id 11 before id 10 commits.
        The lock is held to the end of the transaction; take it before any other row or
        advisory lock so every writer locks in the same order and none deadlock.
        """
        if self.is_sqlite or self._event_lock_depth is not None:
            return
        if not self.in_transaction:
            raise StoreError("serialize_event_writes() needs an open transaction")
        # Advisory locks are per database; key by schema too, so stores in other schemas
        # of the same database never wait for each other.
        self.execute(
            "SELECT pg_advisory_xact_lock(CAST(:key AS integer), hashtext(current_schema()))",
            {"key": _EVENT_LOCK_KEY},
        )
        self._event_lock_depth = self._depth

    def table_exists(self, name: str) -> bool:
        """True when the table exists (on PostgreSQL: in the current schema)."""
        if self.is_sqlite:
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"
        else:
            sql = (
                "SELECT 1 FROM information_schema.tables WHERE table_name = :name "
                "AND table_schema = current_schema()"
            )
        return self.scalar(sql, {"name": name}) is not None
