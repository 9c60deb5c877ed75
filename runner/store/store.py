"""The store: runs, task runs, attempts and the append-only event log.

``Store`` is one class for callers; its parts live in one module each: the event log
and write discipline (eventlog.py), jobs, runs, attempts, and housekeeping
(maintenance.py). Writes made inside ``transaction()`` are committed together (the
engine groups the changes of one loop turn).
"""

from __future__ import annotations

import logging

from runner.errors import StoreError
from runner.store.database import Database, parse_url
from runner.store.jobs import JobTable
from runner.store.maintenance import Maintenance
from runner.store.recovery import ORPHANED

logger = logging.getLogger(__name__)


__all__ = ["ORPHANED", "Store"]


class Store(JobTable, Maintenance):
    """Read and write runwatch's state; open it with ``Store.open``."""

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, recover: bool = True) -> Store:
        """Open the store at ``url``: create a fresh schema, check an existing one is current,
        and (``recover``) mark attempts whose supervisor died as orphaned."""
        from runner.store.revisions import HEAD, REVISIONS

        parsed = parse_url(url)
        db = Database(parsed)
        try:
            revision = (
                db.scalar("SELECT version_num FROM alembic_version")
                if db.table_exists("alembic_version")
                else None
            )
            if revision != HEAD:
                if revision is not None and revision not in REVISIONS:
                    raise StoreError(
                        f"database {parsed.redacted} is at schema {revision}, newer than this "
                        f"runwatch (schema {HEAD}): upgrade runwatch"
                    )
                if not migrate:
                    raise StoreError(
                        f"database {parsed.redacted} is at schema {revision or 'none'}, "
                        f"this runwatch needs {HEAD}: run `runwatch db upgrade`"
                    )
                cls._upgrade(db, revision)
            store = cls(db)
            if recover:
                store.recover_orphans()
        except BaseException:
            db.close()
            raise
        return store

    @staticmethod
    def _upgrade(db: Database, revision: str | None) -> None:
        from runner.store import migrate  # Alembic only when the schema must change

        logger.info("migrating %s from %s to %s", db.url.redacted, revision, migrate.HEAD)
        migrate.upgrade(db.url)
