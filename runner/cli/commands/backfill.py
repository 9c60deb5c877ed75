"""`runwatch backfill`: one run per fire time of a range, created as capacity frees.

Runs are created only when one may start (so an interrupted backfill leaves nothing
queued behind it), the range is bounded by ``--max-runs``, and SIGINT/SIGTERM stop
creating at once and cancel what runs, as `runwatch run` does. Backfill runs come last:
none starts while a scheduled or manual run of the job waits or runs.
"""

from __future__ import annotations

import itertools
import signal
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING

from runner.cli.commands.run import find_job, parse_logical_time
from runner.cli.context import Context
from runner.cli.output import iso
from runner.errors import UsageError
from runner.model import Job, RunState, TaskState, Trigger
from runner.store.records import RunRecord
from runner.store.scheduling import active_runs, queued_runs
from runner.store.store import Store

if TYPE_CHECKING:
    from runner.engine.engine import Engine

YIELD_POLL_SECONDS = 0.1
"""How often a backfill waiting for the job's scheduled or manual runs looks again. Short:
a job busy most of the time leaves short gaps between its runs, and a poll period that
divides the schedule's period would otherwise miss every gap, starving the backfill."""


@dataclass(frozen=True)
class _Planned:
    """A fire time to run: a new run, or an existing failed one with the tasks to rerun."""

    at: datetime
    run: RunRecord | None
    tasks: tuple[str, ...]


def command(ctx: Context) -> int:
    """Run every fire time in [--from, --to] that has not succeeded; exit 1 if any failed."""
    from runner.clock import utcnow
    from runner.executors.factory import build_engine

    job, fires = _fire_times(ctx)
    store = ctx.open_store()
    store.sync_jobs([job], utcnow())
    plan = deque(p for p in (_plan(store, job, at) for at in fires) if p is not None)
    print(
        f"backfill {job.name}: {len(fires)} fire times, {len(fires) - len(plan)} succeeded or "
        f"running, {len(plan)} to run ({ctx.args.max_active} at a time)",
        flush=True,
    )
    engine = build_engine(ctx.settings, store, pools=ctx.pools, env=ctx.env, redactor=ctx.redactor)
    interrupted: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        interrupted.append(signum)
        engine.cancel(f"backfill interrupted by {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        failed = _drive(
            store, engine, job, plan, max_active=ctx.args.max_active, interrupted=interrupted
        )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        engine.close()
    if interrupted:
        print(f"backfill stopped: {len(plan)} fire times not started", flush=True)
        return 128 + interrupted[0]
    return 1 if failed else 0


def _fire_times(ctx: Context) -> tuple[Job, list[datetime]]:
    from runner.scheduling.schedule import Schedule, check_job_schedule

    args = ctx.args
    job = find_job(ctx, args.job)
    if job.schedule is None:
        raise UsageError(f"job {job.name!r} has no schedule to backfill")
    check_job_schedule(job)
    start, end = parse_logical_time(args.start, "--from"), parse_logical_time(args.end, "--to")
    if end < start:
        raise UsageError(f"--to {args.end} is before --from {args.start}")
    fires = Schedule(job.schedule, job.timezone, job.dst).between(
        start - timedelta(microseconds=1), end, limit=args.max_runs + 1
    )
    if len(fires) > args.max_runs:
        raise UsageError(
            f"--from {args.start} --to {args.end} holds more than {args.max_runs} fire times "
            f"of {job.name!r}; narrow the range or raise --max-runs"
        )
    return job, [fire.at for fire in fires]


def _plan(store: Store, job: Job, at: datetime) -> _Planned | None:
    run = store.find_run(job.name, at)
    if run is None:
        return _Planned(at, None, tuple(job.tasks))
    if run.state not in (RunState.FAILED, RunState.CANCELLED):
        return None
    rows = store.task_runs(run.id)
    rerun = (t for t in job.tasks if t not in rows or rows[t].state is not TaskState.SUCCESS)
    return _Planned(at, run, tuple(rerun))


def _drive(
    store: Store,
    engine: Engine,
    job: Job,
    plan: deque[_Planned],
    *,
    max_active: int,
    interrupted: list[int],
) -> int:
    """Start planned runs as capacity frees until all ended; the number that did not succeed."""
    failed = 0
    yielded_to: set[int] = set()
    while (plan and not interrupted) or engine.active:
        while plan and not interrupted and len(engine.running_runs) < max_active:
            first = _goes_first(store, job, mine=set(engine.running_runs))
            if first is not None:
                if first.id not in yielded_to:
                    print(
                        f"backfill waits: {first.trigger.value} run {first.id} goes first",
                        flush=True,
                    )
                    yielded_to.add(first.id)
                break
            _start(store, engine, job, plan.popleft())
        if engine.active or plan:
            # Runs of other processes end unheard: look again at least every poll.
            engine.step(timeout=YIELD_POLL_SECONDS if plan else None)
        for done in engine.finished:
            print(f"run {done.id} for {iso(done.logical_time)}: {done.state.value}", flush=True)
            failed += done.state is not RunState.SUCCESS
        engine.finished.clear()
    return failed


def _goes_first(store: Store, job: Job, *, mine: set[int]) -> RunRecord | None:
    """A scheduled or manual run of ``job`` that is waiting or running, or None: backfill
    runs have the lowest priority, so none starts while such a run waits or runs. Queued
    runs count only while a `serve` is alive to start them; the failed runs this backfill
    reruns (``mine``) keep their trigger but not their priority."""
    from runner.cli.alert_delivery import scheduler_alive
    from runner.clock import utcnow

    others: Iterable[RunRecord] = active_runs(store, job.name)
    if scheduler_alive(store, utcnow()):
        waiting = (r for r in queued_runs(store) if r.job == job.name)
        others = itertools.chain(waiting, others)
    return next((r for r in others if r.trigger is not Trigger.BACKFILL and r.id not in mine), None)


def _start(store: Store, engine: Engine, job: Job, planned: _Planned) -> None:
    from runner.clock import utcnow

    if planned.run is not None:
        engine.start(job, planned.run, rerun=planned.tasks)
        return
    created = store.create_run(job, planned.at, Trigger.BACKFILL, utcnow(), claim=True)
    if created is not None:  # None: another process created it since the plan was made
        engine.start(job, created)
