"""Listing commands: `jobs`, `runs`, `show RUN_ID`, `logs RUN_ID [TASK]`."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.cli.commands.run import run_summary
from runner.cli.context import Context
from runner.cli.output import emit_json, iso, short_time, table
from runner.durations import format_duration
from runner.errors import DefinitionError, NotFoundError, UsageError
from runner.model import Job, RunState
from runner.redaction import Redactor
from runner.run_page import run_page_url, url_problem
from runner.secret import Secret
from runner.store.logfiles import RefusedLogPathError, open_log
from runner.store.records import JobRecord, RunRecord
from runner.store.store import Store


def jobs(ctx: Context) -> int:
    """List the jobs — defined ones, and those only `runwatch wrap` registered — with the
    schedule, next fire time in the job's timezone, paused, status (late, missed) and
    last run."""
    from runner.clock import utcnow

    store = ctx.open_store()
    now = utcnow()
    defined = _defined_jobs(ctx)
    store.sync_jobs(defined.values(), now)
    stored = {job.name: job for job in store.list_jobs()}
    wrapped = sorted(n for n, j in stored.items() if j.source == "wrap" and n not in defined)
    records = [
        _job_record(store, stored[name], defined.get(name), now) for name in [*defined, *wrapped]
    ]
    if ctx.args.format == "json":
        emit_json(records)
        return 0
    table(
        [
            "job",
            "schedule",
            "next run (job's tz)",
            "owner",
            "paused",
            "status",
            "last run",
            "state",
        ],
        [
            [
                r["job"],
                r["schedule"],
                r["next_run_at"] and f"{r['next_run_at'][:19]} {r['timezone']}",
                r["owner"],
                "yes" if r["paused"] else "",
                r["status"] or _waits(r),
                r["last_run_at"] and r["last_run_at"][:19],
                r["last_state"],
            ]
            for r in records
        ],
        state_column=7,
    )
    return 0


def _waits(record: dict[str, Any]) -> str | None:
    waiting = record.get("waiting_for")
    return f"waits for {', '.join(waiting)}" if waiting else None


def _defined_jobs(ctx: Context) -> dict[str, Job]:
    """The jobs of the definitions, or none when no job paths are configured."""
    try:
        return dict(ctx.definitions.jobs)
    except UsageError:
        if getattr(ctx.args, "jobs", None):
            raise
        return {}


def _job_record(
    store: Store, job: JobRecord, definition: Job | None, now: datetime
) -> dict[str, Any]:
    from runner.scheduling.schedule import Schedule, runnable

    last = store.list_runs(job=job.name, limit=1)
    next_fire = None
    depends = None if definition is None else definition.depends_on
    if depends is not None and definition is not None:
        return {
            **_job_fields(store, job, last, now),
            "schedule": f"after {', '.join(depends.jobs)} (per {depends.period.value})",
            "next_run_at": None,
            "waiting_for": _waiting_for(store, definition, now),
        }
    if job.schedule is not None and not job.paused and runnable(job.schedule, job.timezone):
        schedule = Schedule(job.schedule, job.timezone, definition.dst if definition else None)
        next_fire = schedule.next_after(now).at.astimezone(schedule.tz)
    return {**_job_fields(store, job, last, now), "next_run_at": iso(next_fire)}


def _job_fields(
    store: Store, job: JobRecord, last: list[RunRecord], now: datetime
) -> dict[str, Any]:
    from runner.scheduling.expectations import job_status

    return {
        "job": job.name,
        "schedule": job.schedule,
        "timezone": job.timezone,
        "owner": job.owner,
        "tags": list(job.tags),
        "paused": job.paused,
        "status": job_status(store, job.name, now),
        "last_run_id": last[0].id if last else None,
        "last_state": last[0].state.value if last else None,
        "last_run_at": iso(last[0].started_at) if last else None,
        "source": job.source,
    }


def _waiting_for(store: Store, job: Job, now: datetime) -> list[str]:
    """The upstream jobs the current period's run of ``job`` still waits for (none once
    that run exists)."""
    from runner.scheduling.after import period_of, waiting_for

    assert job.depends_on is not None
    start, end = period_of(job.depends_on.period, job.timezone, now)
    if store.find_run(job.name, start) is not None:
        return []
    return waiting_for(store, job, start, end)


def runs(ctx: Context) -> int:
    """List runs, newest first."""
    args = ctx.args
    state = None
    if args.status:
        try:
            state = RunState(args.status)
        except ValueError:
            choices = ", ".join(s.value for s in RunState)
            raise UsageError(f"--status {args.status!r}: expected one of {choices}") from None
    store = ctx.open_store()
    found = store.list_runs(job=args.job, state=state, limit=args.limit)
    if args.format == "json":
        emit_json(
            [
                {
                    "run_id": r.id,
                    "job": r.job,
                    "state": r.state.value,
                    "trigger": r.trigger.value,
                    "logical_time": iso(r.logical_time),
                    "queued_at": iso(r.queued_at),
                    "started_at": iso(r.started_at),
                    "finished_at": iso(r.finished_at),
                    "duration_seconds": r.duration_seconds,
                    "reason": r.reason,
                    "trace_id": r.trace_id,
                }
                for r in found
            ]
        )
        return 0
    table(
        ["run", "job", "state", "trigger", "logical time", "started", "duration"],
        [
            [
                r.id,
                r.job,
                r.state.value,
                r.trigger.value,
                short_time(r.logical_time),
                short_time(r.started_at),
                format_duration(r.duration_seconds) if r.duration_seconds is not None else "-",
            ]
            for r in found
        ],
        state_column=2,
    )
    return 0


def show(ctx: Context) -> int:
    """Show one run: its tasks, attempts, exit codes and errors, and links to its trace
    and its dashboard page."""
    dashboard_url = _dashboard_url(ctx)
    store = ctx.open_store()
    from runner.telemetry.links import trace_link

    run = store.get_run(ctx.args.run_id)
    summary = run_summary(store, run)
    template = ctx.settings.telemetry.get("trace_url")
    if isinstance(template, Secret):  # built from ${…}: the link is redacted when shown
        template = template.reveal()
    summary["trace_url"] = trace_link(template, run.trace_id)
    summary["run_url"] = run_page_url(dashboard_url, run.id)
    if ctx.args.format == "json":
        emit_json(ctx.redactor.redact_tree(summary))  # a trace link may hold a token
        return 0
    _print_run(ctx, store, run, summary)
    return 0


def _dashboard_url(ctx: Context) -> str | None:
    """``dashboard.url``, checked (exit 2 naming the key); None when unset. One built from
    ``${…}`` is revealed here and redacted when shown, like the trace link."""
    raw = ctx.settings.dashboard.get("url")
    if raw is None:
        return None
    text = (raw.reveal() if isinstance(raw, Secret) else str(raw)).strip()
    problem = url_problem(text)
    if problem:
        source = ctx.settings.config_path or "runwatch.yaml"
        raise DefinitionError(f"{source}: dashboard.url: {problem}")
    return text


def _print_run(ctx: Context, store: Store, run: RunRecord, summary: dict[str, Any]) -> None:
    """The human form of ``show``; every text is redacted of secrets (tokens in links,
    rows recorded before redaction or by another host)."""
    redact = ctx.redactor.redact
    print(f"run {run.id}  job {run.job}  {run.state.value}  trigger {run.trigger.value}")
    print(f"logical time  {iso(run.logical_time)}")
    print(f"started       {iso(run.started_at) or '-'}")
    print(f"finished      {iso(run.finished_at) or '-'}")
    if run.reason:
        print(f"reason        {redact(run.reason)}")
    if run.trace_id:
        print(f"trace id      {run.trace_id}")
        link = summary["trace_url"]
        if link:
            print(f"trace         {redact(str(link))}")
    if summary["run_url"]:
        print(f"dashboard     {redact(str(summary['run_url']))}")
    if run.params:
        print("params        " + ", ".join(f"{k}={v}" for k, v in run.params.items()))
    print()
    rows = []
    for attempt in store.attempts(run.id):
        rows.append(
            [
                attempt.task,
                attempt.number,
                attempt.state.value,
                short_time(attempt.started_at),
                format_duration(attempt.duration_seconds)
                if attempt.duration_seconds is not None
                else "-",
                attempt.exit_code if attempt.signal is None else f"signal {attempt.signal}",
                redact(attempt.reason or ""),
            ]
        )
    pending = [t for t in summary["tasks"] if not t["attempts"]]
    rows += [[t["task"], "-", t["state"], "-", "-", "-", ""] for t in pending]
    table(
        ["task", "attempt", "state", "started", "duration", "exit", "reason"], rows, state_column=2
    )
    for attempt in store.attempts(run.id):
        if attempt.error and attempt.state.failed:
            print(f"\n{attempt.task} attempt {attempt.number}:")
            for line in redact(attempt.error).splitlines()[-10:]:
                print(f"  {line}")


def logs(ctx: Context) -> int:
    """Print the captured output of a run's attempts, redacted of known secrets.

    Only files inside this runwatch's logs folder are shown; a recorded path elsewhere is
    refused, the other streams still printed, and the command exits 2 naming it.
    """
    args = ctx.args
    store = ctx.open_store()
    run = store.get_run(args.run_id)
    attempts = store.attempts(run.id, args.task)
    if args.task and not attempts:
        raise NotFoundError(f"run {run.id} has no attempts of task {args.task!r}")
    if args.attempt is not None:
        attempts = [a for a in attempts if a.number == args.attempt]
        if not attempts:
            raise NotFoundError(
                f"run {run.id}: no attempt {args.attempt} of {args.task or 'any task'}"
            )
    streams = {"stdout": (True, False), "stderr": (False, True), "both": (True, True)}[args.stream]
    many = len(attempts) > 1 or args.stream == "both"
    refused = []
    for attempt in attempts:
        for path, wanted, label in (
            (attempt.stdout_path, streams[0], "stdout"),
            (attempt.stderr_path, streams[1], "stderr"),
        ):
            if not wanted:
                continue
            if many:
                print(f"==> {attempt.task} attempt {attempt.number} {label} <==", flush=True)
            try:
                logs_dir = ctx.settings.home / "logs"
                shown = path is not None and _print_log(path, logs_dir, ctx.redactor)
            except RefusedLogPathError as exc:
                refused.append(f"{attempt.task} attempt {attempt.number} {label}: {exc}")
                shown = True
                if many:
                    print("(not shown: outside the logs folder)")
            if many and not shown:
                print("(no output captured)")
    if refused:
        raise RefusedLogPathError("; ".join(refused) + ": not shown")
    return 0


def _print_log(path: str, logs_dir: Path, redactor: Redactor) -> bool:
    """Copy the log file to stdout, redacted of known secrets; False when there is none."""
    try:
        fd = open_log(path, logs_dir)
    except FileNotFoundError:
        return False
    sys.stdout.flush()
    with os.fdopen(fd, "rb") as log:
        sys.stdout.buffer.write(redactor.redact_bytes(log.read()))
    sys.stdout.buffer.flush()
    return True
