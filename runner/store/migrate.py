"""Schema migrations with Alembic; imported only when the schema must change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.errors import StoreError
from runner.filemodes import private_file
from runner.store.database import DatabaseURL, parse_url, sqlalchemy_url
from runner.store.revisions import HEAD, REVISIONS

__all__ = ["HEAD", "REVISIONS", "upgrade"]


_MIGRATIONS = Path(__file__).with_name("migrations")
# Held (with the schema's hash) by the migrating transaction on PostgreSQL, so concurrent
# first opens of one schema migrate it once.
_MIGRATION_LOCK_KEY = 0x72776D67


def upgrade(url: DatabaseURL | str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest).

    The whole upgrade is one locked transaction (BEGIN IMMEDIATE on SQLite, an advisory
    lock on PostgreSQL) and Alembic reads the current revision only once it holds the
    lock: processes opening a fresh database at the same moment migrate it once, and a
    failed migration leaves the schema as it was.
    """
    from alembic import command  # Alembic and SQLAlchemy are imported only here
    from alembic.config import Config
    from alembic.util import CommandError
    from sqlalchemy import exc as sa_exc

    parsed = parse_url(url) if isinstance(url, str) else url
    try:
        engine = _engine(parsed)
    except (sa_exc.SQLAlchemyError, ValueError) as exc:  # SQLAlchemy's URL parser
        raise StoreError(f"database URL {parsed.redacted}: {parsed.scrub(exc)}") from exc
    try:
        with engine.begin() as connection:
            if parsed.dialect == "postgresql":
                connection.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock("
                    "CAST(%(key)s AS integer), hashtext(current_schema()))",
                    {"key": _MIGRATION_LOCK_KEY},
                )
            config = Config()
            config.set_main_option("script_location", str(_MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except (sa_exc.SQLAlchemyError, CommandError) as exc:
        raise StoreError(
            f"cannot migrate database {parsed.redacted} to {revision}: {parsed.scrub(exc)}"
        ) from exc
    finally:
        engine.dispose()


def _engine(url: DatabaseURL) -> Any:
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    if url.dialect != "sqlite":
        return create_engine(sqlalchemy_url(url), poolclass=NullPool)
    if url.path is not None:
        private_file(url.path)  # before SQLAlchemy creates it with the default mode
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool, connect_args={"timeout": 30})

    # Python's sqlite3 commits DDL statement by statement; take over transaction control
    # so the migration is atomic and holds the write lock from its first statement.
    @event.listens_for(engine, "connect")
    def _manual_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
