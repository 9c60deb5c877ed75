"""The store: runwatch's state in SQLite or PostgreSQL, and the one home of its SQL.

Open it with ``Store.open(url)``; ``Store`` writes and reads the spine (jobs, runs, task
runs, attempts and the append-only event log), each write with its event. Every SQL
statement of the project lives in this package, one query module per concern, each
taking the ``Store`` (its connection, ``Store._db``, is private to this package):

- ``spine_sql`` and ``lean_connection``: wrap's lean path (import-light), the same
  rows as ``Store`` writes;
- ``scheduling``, ``leases``, ``heartbeats``, ``expectation_reads``: the scheduler's
  claims, remote workers' attempt leases, heartbeats, missed and overdue runs;
- ``cursors``, ``alerts``, ``alert_groups``, ``silences``, ``notifications``: the
  alert engine's state and its outbox;
- ``telemetry_reads``: the aggregates of the metrics;
- ``dashboard_reads``: the dashboard's read-only queries (SQLAlchemy Core) and their
  result types.

The names below are imported on first use (PEP 562), so ``import runner.store`` costs
nothing and wrap's path pays only for the modules it touches.
"""

from __future__ import annotations

# Only modules and underscored names here: the package's public names are its exports.
from runner.lazy_names import lazy_names as _lazy_names

_TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (wrap's budget)
if _TYPE_CHECKING:
    from runner.store.alerts import AlertState
    from runner.store.database import Database, DatabaseURL, parse_url, redact_url
    from runner.store.notifications import NotificationStatus
    from runner.store.records import (
        AttemptRecord,
        JobRecord,
        RunRecord,
        TaskRunRecord,
        from_epoch,
        to_epoch,
    )
    from runner.store.recovery import ORPHANED
    from runner.store.store import Store

_HOMES = {
    "ORPHANED": "recovery",
    "AlertState": "alerts",
    "AttemptRecord": "records",
    "Database": "database",
    "DatabaseURL": "database",
    "JobRecord": "records",
    "NotificationStatus": "notifications",
    "RunRecord": "records",
    "Store": "store",
    "TaskRunRecord": "records",
    "from_epoch": "records",
    "parse_url": "database",
    "redact_url": "database",
    "to_epoch": "records",
}

__all__ = [
    "ORPHANED",
    "AlertState",
    "AttemptRecord",
    "Database",
    "DatabaseURL",
    "JobRecord",
    "NotificationStatus",
    "RunRecord",
    "Store",
    "TaskRunRecord",
    "from_epoch",
    "parse_url",
    "redact_url",
    "to_epoch",
]


__getattr__, __dir__ = _lazy_names(__name__, _HOMES, globals())
