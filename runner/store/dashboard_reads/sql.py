"""What the queries share: state sets, nearest-rank percentiles, row helpers, masking."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    case,
    column,
    func,
    inspect,
    select,
    table,
)

from runner.model import RunState, TaskState
from runner.store.database import redact_url
from runner.store.records import from_epoch, to_epoch
from runner.store.schema import runs

FINISHED = (RunState.SUCCESS.value, RunState.FAILED.value, RunState.CANCELLED.value)
FAILED_ATTEMPT = (TaskState.FAILED.value, TaskState.TIMED_OUT.value)
_PERCENTILES_PER_STATEMENT = 200
HIDDEN = "(hidden)"
_SECRET_PARAM = re.compile(r"pass|secret|token|key|credential|auth", re.IGNORECASE)
_URL = re.compile(r"\b(https?://[^/\s'\"]+)/[^\s'\"]*")


def has_alerting(conn: Connection) -> bool:
    """True when the store has the alerting tables (schema 0003 or newer)."""
    return inspect(conn).has_table("alerts")


def schema_revision(conn: Connection) -> str | None:
    """The store's schema revision (Alembic's), None when there is no store."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    version = table("alembic_version", column("version_num"))
    found = conn.execute(select(version.c.version_num)).scalar()
    return None if found is None else str(found)


def percentile_of(
    value: ColumnElement[Any], fraction: float, rank: ColumnElement[Any], count: ColumnElement[Any]
) -> ColumnElement[Any]:
    """Aggregate: the nearest-rank ``fraction`` percentile of ``value`` in a ranked subquery."""
    return func.min(case((rank >= count * fraction, value)))


def as_time(value: Any) -> datetime | None:
    """A stored epoch time as an aware datetime, or None."""
    return None if value is None else from_epoch(float(value))


def seconds_between(started: Any, finished: Any) -> float | None:
    """The duration between two stored times, or None when either is missing."""
    if started is None or finished is None:
        return None
    return max(0.0, float(finished) - float(started))


def masked_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Run parameters fit to show: values of secret-looking keys are hidden."""
    return {k: HIDDEN if _SECRET_PARAM.search(k) else str(v) for k, v in params.items()}


def scrub_text(text: str | None) -> str | None:
    """Delivery errors may echo a webhook URL, whose path is the secret: keep only the host."""
    if text is None:
        return None
    return _URL.sub(lambda m: redact_url(m.group(1)) + "/…", text)


def like_json_string(value: str) -> str:
    """A LIKE pattern matching ``value`` as a string inside a JSON text column."""
    quoted = json.dumps(value)
    return "%" + re.sub(r"([\\%_])", r"\\\1", quoted) + "%"


def duration_percentiles(
    conn: Connection, counts: Sequence[tuple[str, int]], percent: int, since: datetime
) -> list[float | None]:
    """The nearest-rank ``percent`` percentile of run durations per job, over runs finished
    since ``since``; ``counts`` holds each job with how many such runs have a start time.

    The value at rank ceil(p * n) is read from the longest end (an offset of n - rank), so
    each lookup walks about (100 - p)% of the job's runs in the window on the index.
    """
    found: list[float | None] = []
    for start in range(0, len(counts), _PERCENTILES_PER_STATEMENT):
        chunk = counts[start : start + _PERCENTILES_PER_STATEMENT]
        params: dict[str, Any] = {"since": to_epoch(since)}
        for i, (job, n) in enumerate(chunk):
            params[f"j{i}"] = job
            params[f"o{i}"] = n - -(-percent * n // 100)
        row = conn.execute(_percentile_statement(len(chunk)), params).one()
        found.extend(None if v is None else float(v) for v in row)
    return found


@lru_cache(maxsize=16)
def _percentile_statement(size: int) -> Select[Any]:
    """One scalar subquery per job, bound by name: built once per size, since building
    a few hundred subqueries costs more than running them."""
    duration = runs.c.finished_at - runs.c.started_at
    return select(
        *(
            select(duration)
            .where(
                runs.c.job == bindparam(f"j{i}"),
                runs.c.finished_at >= bindparam("since"),
                runs.c.started_at.is_not(None),
            )
            .order_by(duration.desc())
            .limit(1)
            .offset(bindparam(f"o{i}", type_=Integer))
            .scalar_subquery()
            .label(f"p{i}")
            for i in range(size)
        )
    )
