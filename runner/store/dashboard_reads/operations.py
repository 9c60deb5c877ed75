"""The operations done from the dashboard, for the page each was about: a run's, a job's,
or the alerts page (acknowledgements and silences, recorded under no job)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, literal_column, select

from runner.events import OperatorAction
from runner.store.records import from_epoch
from runner.store.schema import events

SHOWN = 50
ALERTS_JOB = ""
"""The job an operation on alerts or silences is recorded under: none."""


@dataclass(frozen=True)
class OperationRow:
    """Who did what, when, from the dashboard."""

    at: datetime
    user: str
    action: str
    subject: str
    detail: str
    run_id: int | None


def operations(
    conn: Connection, *, run_id: int | None = None, job: str | None = None
) -> list[OperationRow]:
    """The newest operations on a run, or a job's (``ALERTS_JOB``: on alerts), newest first."""
    # the type as a literal, not a parameter: so the planner can use the partial index
    query = select(events.c.at, events.c.run_id, events.c.payload).where(
        events.c.type == literal_column(f"'{OperatorAction.type}'")
    )
    if run_id is not None:
        query = query.where(events.c.run_id == run_id)
    if job is not None:
        query = query.where(events.c.job == job)
    rows = conn.execute(query.order_by(events.c.id.desc()).limit(SHOWN)).mappings()
    found = []
    for row in rows:
        payload = json.loads(row["payload"])
        found.append(
            OperationRow(
                at=from_epoch(float(row["at"])),
                user=str(payload.get("user", "")),
                action=str(payload.get("action", "")),
                subject=str(payload.get("subject", "")),
                detail=str(payload.get("detail", "")),
                run_id=row["run_id"],
            )
        )
    return found
