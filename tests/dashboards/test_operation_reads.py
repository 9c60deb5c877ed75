"""The operations log on each backend: what the pages read (by run, by job, on alerts) and
the cancel requests an engine polls for (only those made after the run last started)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboards.database import connect_readonly
from runner.events import OperatorAction, RunStarted
from runner.store.dashboard_reads.operations import ALERTS_JOB, operations
from runner.store.operations import cancel_requests
from runner.store.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _act(
    store: Store,
    minutes: int,
    action: str,
    *,
    job: str = "etl",
    run_id: int | None = None,
    user: str = "alice",
) -> None:
    store.append(
        OperatorAction(
            at=T0 + timedelta(minutes=minutes),
            job=job,
            run_id=run_id,
            action=action,
            user=user,
            subject=f"run {run_id}" if run_id else "",
            detail="d",
        )
    )


def _started(store: Store, run_id: int, minutes: int) -> None:
    store.append(RunStarted(at=T0 + timedelta(minutes=minutes), job="etl", run_id=run_id))


def test_the_pages_read_their_operations_newest_first(store: Store, db_url: str) -> None:
    _act(store, 1, "pause")
    _act(store, 2, "cancel", run_id=7)
    _act(store, 3, "acknowledge", job=ALERTS_JOB, user="bob")
    _started(store, 7, 4)  # other events are not operations

    readonly = connect_readonly(db_url)
    with readonly.connect() as conn:
        job = operations(conn, job="etl")
        run = operations(conn, run_id=7)
        alerts = operations(conn, job=ALERTS_JOB)
    readonly.dispose()

    assert [(o.action, o.at) for o in job] == [
        ("cancel", T0 + timedelta(minutes=2)),
        ("pause", T0 + timedelta(minutes=1)),
    ]
    assert [(o.action, o.user, o.run_id) for o in run] == [("cancel", "alice", 7)]
    assert [(o.action, o.user) for o in alerts] == [("acknowledge", "bob")]


def test_only_a_cancel_asked_after_the_run_last_started_counts(store: Store) -> None:
    _started(store, 1, 0)
    _act(store, 1, "cancel", run_id=1, user="old")  # of the first try
    _started(store, 1, 2)  # rerun
    _started(store, 2, 2)
    _act(store, 3, "pause", run_id=2)  # not a cancel
    _started(store, 3, 2)
    _act(store, 4, "cancel", run_id=3, user="alice")
    _act(store, 5, "cancel", run_id=3, user="bob")

    assert cancel_requests(store, [1, 2, 3, 4]) == {3: "alice"}
    assert cancel_requests(store, []) == {}
