"""The dashboard and `runwatch jobs` tell the same jobs late at the same moments: one
definition (``runner.job_health``), with ``grace: 0s`` and with no grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.database import connect_readonly
from dashboards.health import job_overview
from runner.job_health import DEFAULT_GRACE, LATE
from runner.scheduling.expectations import job_status
from runner.store.dashboard_reads.results import Health
from runner.store.store import Store
from runner.wrap.recorder import record, register_job
from runner.wrap.report import JobSpec
from tests.runner.wrap.conftest import finished_report
from tests.storesql import sql

T0 = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)
EVERY_TEN_MINUTES = "*/10 * * * *"
NEXT_FIRE = T0 + timedelta(minutes=10)


def ran_at_t0(store: Store, job: str, grace: float | None) -> None:
    """``job`` declared (every ten minutes, ``grace``) and run once, at ``T0``."""
    spec = JobSpec(job, schedule=EVERY_TEN_MINUTES, grace=grace)
    with sql(store).transaction():
        register_job(store.spine_connection(), spec, (T0 - timedelta(hours=1)).timestamp())
    record(store.spine_connection(), finished_report(job, at=T0.timestamp(), spec=spec))


def lateness(store: Store, db_url: str, job: str, now: datetime) -> tuple[bool, bool]:
    """(late for `runwatch jobs`, late on the dashboard) at ``now``."""
    engine = connect_readonly(db_url)
    try:
        with engine.connect() as conn:
            (row,) = [r for r in job_overview(conn, now, timedelta(days=1)) if r.name == job]
    finally:
        engine.dispose()
    return job_status(store, job, now) == LATE, row.health is Health.LATE


@pytest.mark.parametrize(
    ("grace", "after_fire", "late"),
    [
        (0.0, timedelta(seconds=-30), False),
        (0.0, timedelta(seconds=30), True),
        (None, timedelta(seconds=30), False),
        (None, DEFAULT_GRACE - timedelta(seconds=30), False),
        (None, DEFAULT_GRACE + timedelta(seconds=30), True),
    ],
)
def test_the_dashboard_and_runwatch_jobs_agree_on_lateness(
    store: Store, db_url: str, grace: float | None, after_fire: timedelta, late: bool
) -> None:
    ran_at_t0(store, "tick", grace)

    assert lateness(store, db_url, "tick", NEXT_FIRE + after_fire) == (late, late)
