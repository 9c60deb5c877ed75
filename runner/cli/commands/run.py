"""`runwatch run JOB`: execute one run of a job now, or rerun one for a logical time."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from types import FrameType

from runner.cli import startup_gc
from runner.cli.context import Context
from runner.cli.output import emit_json, iso, paint, table
from runner.cli.progress import ProgressDisplay
from runner.durations import format_duration
from runner.engine.engine import tasks_to_resume
from runner.errors import NotFoundError, UsageError
from runner.model import Job, RunState, TaskState, Trigger
from runner.store.records import RunRecord
from runner.store.store import ORPHANED, Store

_PARAM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def parse_params(values: list[str] | None) -> dict[str, str]:
    """``key=value`` pairs from ``--param``; keys must be identifiers."""
    params: dict[str, str] = {}
    for value in values or []:
        match = _PARAM.match(value)
        if not match:
            raise UsageError(
                f"--param {value!r}: expected KEY=VALUE with KEY made of letters, digits, _"
            )
        params[match.group(1)] = match.group(2)
    return params


def parse_logical_time(value: str, option: str = "--logical-time") -> datetime:
    """An ISO 8601 time or date; without an offset it is taken as UTC."""
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {value!r}: expected ISO 8601, e.g. 2026-11-25T02:00:00+01:00"
        ) from None
    if not 1900 <= moment.year <= 9000:
        raise UsageError(f"{option} {value!r}: expected a year between 1900 and 9000")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def find_job(ctx: Context, name: str) -> Job:
    """The loaded job of that name; NotFoundError with a suggestion otherwise."""
    jobs = ctx.definitions.jobs
    if name not in jobs:
        import difflib

        close = difflib.get_close_matches(name, list(jobs), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise NotFoundError(f"job {name!r} is not defined{hint}; known jobs: {', '.join(jobs)}")
    return jobs[name]


def _prepare(store: Store, job: Job, ctx: Context) -> tuple[RunRecord, list[str], bool] | None:
    """The run to execute, the tasks to (re)run and whether retry budgets carry over (a run
    orphaned by a crash resumes within its budgets); None when there is nothing to do."""
    from runner import processes
    from runner.clock import utcnow
    from runner.store.leases import running_attempt_count

    args = ctx.args
    params = parse_params(args.param)
    now = utcnow()
    logical = parse_logical_time(args.logical_time) if args.logical_time else now
    existing = store.find_run(job.name, logical) if args.logical_time else None
    if existing is None:
        store.sync_jobs([job], now)
        run = store.create_run(job, logical, Trigger.MANUAL, now, params, claim=True)
        if run is not None:
            return run, [], False
        existing = store.find_run(job.name, logical)
        assert existing is not None
    if (
        existing.state in (RunState.RUNNING, RunState.QUEUED)
        and existing.supervisor
        and processes.is_alive(existing.supervisor)
        and existing.supervisor != processes.current()
    ):
        raise UsageError(f"run {existing.id} of {job.name!r} is still running; wait or cancel it")
    if running_attempt_count(store, existing.id):
        raise UsageError(
            f"run {existing.id} of {job.name!r} is still running: its supervisor died, but a "
            "command it started runs on and will be adopted when it ends; wait for it"
        )
    rows = store.task_runs(existing.id)
    resume = existing.reason == ORPHANED and not args.force
    if args.force:  # the instances of mapped tasks too: none keeps its success
        tasks = [*job.tasks, *(t for t in rows if t not in job.tasks)]
    elif resume:
        tasks = tasks_to_resume(job, rows)
    else:
        tasks = [t for t in job.tasks if t not in rows or rows[t].state is not TaskState.SUCCESS]
    if not tasks:
        return None
    return existing, tasks, resume


def command(ctx: Context) -> int:
    """Run the job; exit 0 on success, 1 when the run failed, 130/143 when interrupted."""
    from runner.cli.alert_delivery import InRunAlerts
    from runner.clock import utcnow
    from runner.executors.factory import build_engine
    from runner.telemetry.factory import build_tracing

    startup_gc.resume()  # the modules are in: the job's definitions make garbage to collect
    job = find_job(ctx, ctx.args.job)
    alerts = InRunAlerts(ctx.settings)
    store = ctx.open_store()
    prepared = _prepare(store, job, ctx)
    if prepared is None:
        run = store.find_run(job.name, parse_logical_time(ctx.args.logical_time))
        assert run is not None
        if run.state is RunState.SUCCESS:
            print(
                f"run {run.id} of {job.name} already succeeded for {iso(run.logical_time)}; "
                "nothing to rerun (use --force to run every task again)"
            )
            return 0
        print(
            f"run {run.id} of {job.name} {run.state.value}; no task has retries left "
            "(use --force to run every task again)"
        )
        return 1
    run, rerun, resume = prepared
    as_json = ctx.args.format == "json"
    display = ProgressDisplay(list(job.tasks), stream=sys.stderr if as_json else sys.stdout)
    if not as_json:
        verb = "rerunning " + ", ".join(t for t in rerun if t in job.tasks) if rerun else "running"
        print(f"run {run.id} of {job.name} ({verb}) for {iso(run.logical_time)}", flush=True)
    observer = build_tracing(ctx.env, install_global=True)
    trace_log_records(observer)
    engine = build_engine(
        ctx.settings,
        store,
        pools=ctx.pools,
        progress=display,
        observer=observer,
        env=ctx.env,
        redactor=ctx.redactor,
    )
    events_before = store.last_event_id()
    interrupted: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        interrupted.append(signum)
        engine.cancel(f"interrupted by {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        final = engine.execute(job, run, rerun=rerun, keep_budget=resume)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        engine.close()
        display.close()
    alerts.deliver(store, utcnow())
    push_metrics(ctx.env, store, final, events_before)
    if as_json:
        emit_json(run_summary(store, final))
    else:
        _print_summary(store, job, final)
    if interrupted:
        return 128 + interrupted[0]
    return 0 if final.state is RunState.SUCCESS else 1


def trace_log_records(observer: object) -> None:
    """Give runwatch's own log records the trace and span ids of the run they are about."""
    import logging

    from runner.telemetry.ids import SpanIdsSource
    from runner.telemetry.log_formats import TextFormatter, TraceContextFilter

    if isinstance(observer, SpanIdsSource):
        for handler in logging.getLogger().handlers:
            handler.addFilter(TraceContextFilter(observer))
            handler.setFormatter(TextFormatter())


def push_metrics(env: Mapping[str, str], store: Store, run: RunRecord, after: int) -> None:
    """Push the run's metrics to RUNWATCH_PUSHGATEWAY_URL, for users without `serve`."""
    url = env.get("RUNWATCH_PUSHGATEWAY_URL")
    if not url:
        return
    from runner.telemetry.pushgateway import push_run_metrics

    events = [
        e for e in store.events_after(after, job=run.job, limit=100_000) if e.run_id == run.id
    ]
    push_run_metrics(url, run.job, events, store=store)


def run_summary(store: Store, run: RunRecord) -> dict[str, object]:
    """A run with its tasks, as `show --format json` and `run --format json` print it."""
    attempts = store.attempts(run.id)
    tasks = store.task_runs(run.id)
    return {
        "run_id": run.id,
        "job": run.job,
        "state": run.state.value,
        "trigger": run.trigger.value,
        "logical_time": iso(run.logical_time),
        "queued_at": iso(run.queued_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_seconds": run.duration_seconds,
        "reason": run.reason,
        "trace_id": run.trace_id,
        "params": run.params,
        "tasks": [
            {
                "task": t.task,
                "state": t.state.value,
                "attempts": [
                    {
                        "attempt": a.number,
                        "state": a.state.value,
                        "started_at": iso(a.started_at),
                        "finished_at": iso(a.finished_at),
                        "duration_seconds": a.duration_seconds,
                        "exit_code": a.exit_code,
                        "signal": a.signal,
                        "reason": a.reason,
                        "error": a.error,
                    }
                    for a in attempts
                    if a.task == t.task
                ],
            }
            for t in tasks.values()
        ],
    }


def _print_summary(store: Store, job: Job, run: RunRecord) -> None:
    tasks = store.task_runs(run.id)
    totals = store.attempt_totals(run.id)
    rows = []
    for name in [n for n in job.tasks if n in tasks]:
        state = tasks[name].state
        count, seconds, reason = totals.get(name, (0, 0.0, None))
        rows.append(
            [
                name,
                state.value,
                count,
                format_duration(seconds) if count else "-",
                (reason if state is not TaskState.SUCCESS else None) or "",
            ]
        )
    print()
    table(["task", "state", "attempts", "time", "note"], rows, state_column=1)
    took = format_duration(run.duration_seconds or 0)
    print(
        f"\nrun {run.id} {paint(run.state.value, sys.stdout)} in {took}"
        + (f": {run.reason}" if run.reason and run.state is not RunState.SUCCESS else "")
    )
    if run.state is RunState.SUCCESS:
        return
    failed = [a for a in store.attempts(run.id) if a.state.failed and a.error]
    if failed:
        last = failed[-1]
        print(f"\nlast error ({last.task}, attempt {last.number}):")
        for line in (last.error or "").splitlines()[-10:]:
            print(f"  {line}")
        print(f"\nfull log: runwatch logs {run.id} {last.task} --attempt {last.number}")
