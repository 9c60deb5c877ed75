"""Queued runs are handed out oldest first, with backfill runs after every other kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.model import Job, RunState, Task, Trigger
from runner.store.scheduling import orphaned_runs, queued_runs
from runner.store.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_queued_backfill_runs_never_go_ahead_of_scheduled_or_manual_runs(store: Store) -> None:
    job = Job(name="etl", tasks={"t": Task("t", command="true")}, schedule="@hourly")
    store.sync_jobs([job], T0)
    old_backfill = store.create_run(job, T0 - timedelta(days=30), Trigger.BACKFILL, T0)
    scheduled = store.create_run(job, T0, Trigger.SCHEDULE, T0)
    manual = store.create_run(job, T0 - timedelta(hours=1), Trigger.MANUAL, T0)
    newer_backfill = store.create_run(job, T0 - timedelta(days=29), Trigger.BACKFILL, T0)
    assert None not in (old_backfill, scheduled, manual, newer_backfill)

    order = [run.id for run in queued_runs(store)]

    assert order == [r.id for r in (manual, scheduled, old_backfill, newer_backfill) if r]


def test_orphaned_runs_of_every_trigger_are_resumable_but_wrapped_ones_not(
    store: Store,
) -> None:
    job = Job(name="etl", tasks={"t": Task("t", command="true")}, schedule="@hourly")
    store.sync_jobs([job], T0)
    orphans = {}
    for offset, trigger in enumerate(Trigger):
        run = store.create_run(job, T0 + timedelta(hours=offset), trigger, T0)
        assert run is not None
        store.mark_run_finished(run, RunState.FAILED, T0, reason="orphaned")
        orphans[trigger] = run.id

    resumable = {run.id for run in orphaned_runs(store, T0 - timedelta(hours=1))}

    assert resumable == {orphans[t] for t in Trigger if t is not Trigger.WRAP}
