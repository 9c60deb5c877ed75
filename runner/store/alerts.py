"""The alert engine's rows: alerts, their stored state, and the facts kept per job.

Rows go in and out as dicts of column values; alerting.state turns them into its types.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from runner.store.records import to_epoch

if TYPE_CHECKING:
    from runner.store.store import Store


class AlertState(StrEnum):
    """Where an alert is: firing until its resolution condition holds."""

    FIRING = "firing"
    RESOLVED = "resolved"


def job_facts_rows(store: Store) -> list[dict[str, Any]]:
    """Every ``alert_job_facts`` row: ``job`` and its ``facts`` (JSON)."""
    return store._db.rows("SELECT job, facts FROM alert_job_facts")


def save_job_facts(store: Store, facts: Sequence[tuple[str, str]], now: datetime) -> None:
    """Write (job, facts JSON) pairs."""
    store._db.executemany(
        "INSERT INTO alert_job_facts (job, facts, updated_at) VALUES (:job, :facts, :now) "
        "ON CONFLICT (job) DO UPDATE SET facts = excluded.facts, updated_at = excluded.updated_at",
        [{"job": job, "facts": text, "now": to_epoch(now)} for job, text in facts],
    )


def alert_rows(store: Store, state: AlertState | None = None) -> list[dict[str, Any]]:
    """Stored alerts (optionally in one state), newest change first."""
    where = "WHERE state = :state" if state else ""
    return store._db.rows(
        f"SELECT * FROM alerts {where} ORDER BY updated_at DESC, fingerprint",
        {"state": state.value if state else None},
    )


def save_alert_rows(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update alerts, keyed ``fp``, ``name``, ``severity``, ``job``, ``state``,
    ``labels``, ``annotations``, ``details``, ``starts``, ``ends``, ``updated``,
    ``flapping`` and ``firings``."""
    store._db.executemany(
        "INSERT INTO alerts (fingerprint, alertname, severity, job, state, labels, annotations, "
        "details, starts_at, ends_at, updated_at, flapping, firings) VALUES (:fp, :name, "
        ":severity, :job, :state, :labels, :annotations, :details, :starts, :ends, :updated, "
        ":flapping, :firings) ON CONFLICT (fingerprint) DO UPDATE SET state = excluded.state, "
        "labels = excluded.labels, annotations = excluded.annotations, details = "
        "excluded.details, starts_at = excluded.starts_at, ends_at = excluded.ends_at, "
        "updated_at = excluded.updated_at, flapping = excluded.flapping, firings = "
        "excluded.firings",
        rows,
    )


def firing_by_severity(store: Store) -> dict[str, int]:
    """How many alerts fire, by severity (severities with none are absent)."""
    rows = store._db.rows(
        "SELECT severity, COUNT(*) AS n FROM alerts WHERE state = 'firing' GROUP BY severity"
    )
    return {r["severity"]: int(r["n"]) for r in rows}
