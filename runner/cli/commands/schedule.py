"""Scheduling commands: `schedule-preview`, `trigger`, `pause`, `unpause`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from runner.cli.commands.run import find_job, parse_logical_time, parse_params
from runner.cli.context import Context
from runner.cli.output import emit_json, iso, table
from runner.errors import UsageError
from runner.model import Trigger


def preview(ctx: Context) -> int:
    """The next N fire times of a job, in its timezone and UTC, DST shifts marked."""
    from runner.clock import utcnow
    from runner.scheduling.schedule import Schedule, check_job_schedule

    job = find_job(ctx, ctx.args.job)
    if job.schedule is None:
        runs_on = " (it runs when its datasets are updated)" if job.dataset_schedule else ""
        raise UsageError(f"job {job.name!r} has no schedule{runs_on}")
    check_job_schedule(job)
    if not 1 <= ctx.args.count <= 10_000:
        raise UsageError(f"--count {ctx.args.count}: expected 1 to 10000")
    schedule = Schedule(job.schedule, job.timezone, job.dst)
    start = parse_logical_time(ctx.args.since, "--since") if ctx.args.since else utcnow()
    fires = schedule.between(start, datetime.max.replace(tzinfo=UTC), limit=ctx.args.count)
    notes = {"gap": "moved past a DST gap", "repeat": "second occurrence (DST)"}
    if ctx.args.format == "json":
        emit_json(
            [
                {
                    "local": f.at.astimezone(schedule.tz).isoformat(),
                    "utc": iso(f.at),
                    "dst_shift": f.shifted,
                }
                for f in fires
            ]
        )
        return 0
    if job.depends_on is None:
        print(f"{job.name}: {job.schedule} in {job.timezone}")
    else:
        upstream = ", ".join(job.depends_on.jobs)
        print(
            f"{job.name}: after {upstream}, once per {job.depends_on.period.value} in "
            f"{job.timezone}; it runs when they have all succeeded in the period, not at "
            "these period starts"
        )
    table(
        ["local", "utc", "note"],
        [
            [
                f.at.astimezone(schedule.tz).strftime("%Y-%m-%d %H:%M:%S %Z"),
                f.at.strftime("%Y-%m-%d %H:%M:%S"),
                notes.get(f.shifted or "", ""),
            ]
            for f in fires
        ],
    )
    return 0


def trigger(ctx: Context) -> int:
    """Queue a manual run for the running scheduler to pick up."""
    from runner.clock import utcnow

    job = find_job(ctx, ctx.args.job)
    params = parse_params(ctx.args.param)
    store = ctx.open_store()
    now = utcnow()
    store.sync_jobs([job], now)
    run = store.create_run(job, now, Trigger.MANUAL, now, params)
    assert run is not None
    from runner.cli.alert_delivery import scheduler_alive

    alive = scheduler_alive(store, now)
    if ctx.args.format == "json":
        emit_json({"run_id": run.id, "job": job.name, "scheduler_alive": alive})
    else:
        print(f"run {run.id} of {job.name} queued")
    if not alive:
        print(
            "warning: no `runwatch serve` heartbeat in the last minute; the run starts "
            "when a scheduler is running",
            file=sys.stderr,
        )
    return 0


def pause(ctx: Context) -> int:
    """Pause a job: its fire times pass without runs until unpaused."""
    return _set_paused(ctx, True)


def unpause(ctx: Context) -> int:
    """Unpause a job."""
    return _set_paused(ctx, False)


def _set_paused(ctx: Context, paused: bool) -> int:
    from runner.clock import utcnow

    job = find_job(ctx, ctx.args.job)
    store = ctx.open_store()
    store.sync_jobs([job], utcnow())
    store.set_paused(job.name, paused)
    print(f"{job.name} {'paused' if paused else 'unpaused'}")
    return 0
