"""A read-only SQLAlchemy engine on the store: the dashboard can look but never write.

SQLite is opened through a ``file:…?mode=ro`` URI (the file itself refuses writes, and
``PRAGMA query_only`` backs it up); on PostgreSQL every transaction of the connection is
``READ ONLY`` (``default_transaction_read_only``), so the app never writes even when the
role it connects as could.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

from runner.store.database import DatabaseURL, parse_url, sqlalchemy_url

# A bigger page cache (64 MiB) and memory-mapped reads keep the aggregate queries of a
# large store in memory between refreshes; both are per connection and read-only safe.
_SQLITE_PRAGMAS = (
    "PRAGMA query_only = ON",
    "PRAGMA cache_size = -65536",
    "PRAGMA mmap_size = 268435456",
)


def readonly_url(url: DatabaseURL) -> URL | str:
    """The SQLAlchemy URL that opens ``url`` read-only (SQLite: a ``mode=ro`` URI)."""
    if url.dialect != "sqlite":
        return sqlalchemy_url(url)
    assert url.path is not None
    path = Path(url.path).resolve()
    return URL.create(
        "sqlite+pysqlite",
        database="file:" + quote(str(path)),
        query={"mode": "ro", "uri": "true"},
    )


def connect_readonly(url: str) -> Engine:
    """A read-only engine on the store at ``url`` (``sqlite:///PATH`` or PostgreSQL)."""
    parsed = parse_url(url)
    engine = create_engine(readonly_url(parsed), pool_pre_ping=parsed.dialect != "sqlite")
    if parsed.dialect == "sqlite":
        event.listen(engine, "connect", _sqlite_read_only)
    else:
        event.listen(engine, "connect", _postgresql_read_only)
    return engine


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    for pragma in _SQLITE_PRAGMAS:
        dbapi_connection.execute(pragma)


def _postgresql_read_only(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")
    dbapi_connection.commit()  # the SET ran in a transaction: keep it for the session


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store, None for other databases."""
    parsed = parse_url(url)
    return Path(parsed.path) if parsed.path is not None else None
