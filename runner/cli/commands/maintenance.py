"""Store maintenance and validation: `db upgrade`, `db prune`, `check`."""

from __future__ import annotations

import sys
from datetime import timedelta

from runner import config_fields
from runner.cli.context import Context
from runner.config_fields import Location
from runner.durations import parse_duration
from runner.errors import DefinitionError, UsageError

TELEMETRY_KEYS = ("trace_url",)
"""The keys of runwatch.yaml's ``telemetry:`` (exporters are set by the OTEL_* variables)."""


def db_upgrade(ctx: Context) -> int:
    """Create or migrate the store's schema to this version."""
    from runner.store.migrate import HEAD

    ctx.open_store(recover=False)
    print(f"database {ctx.settings.db_url_redacted} is at schema {HEAD}")
    return 0


def db_prune(ctx: Context) -> int:
    """Delete finished runs older than --older-than, with attempts, events and logs."""
    from runner.clock import utcnow

    try:
        age = parse_duration(ctx.args.older_than)
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}") from None
    store = ctx.open_store()
    counts = store.prune(utcnow() - timedelta(seconds=age), logs_dir=ctx.settings.home / "logs")
    print(", ".join(f"{n} {what}" for what, n in counts.items()) + " deleted")
    return 0


def check(ctx: Context) -> int:
    """Validate settings and every job; exit 2 with the first problem found.

    A settings file without jobs (a host that only wraps cron jobs) is valid. Conditions
    under which a failure would not be alerted are warnings on stderr.
    """
    settings = ctx.settings
    print(f"settings: {settings.config_path or 'none found (defaults)'}")
    ctx.check_store_file()
    has_jobs = bool(getattr(ctx.args, "jobs", None) or settings.job_paths)
    summary = _check_jobs(ctx) if has_jobs else "ok: no jobs (settings for `runwatch wrap`)"
    from alerting import load_alerting
    from runner.executors.celery.settings import celery_settings, executor_kind
    from runner.secret import Secret
    from runner.server.settings import check_server_settings
    from runner.telemetry.config import tracing_settings
    from runner.telemetry.links import check_trace_url

    check_server_settings(settings)
    alerting = load_alerting(settings)
    if executor_kind(settings) == "celery":
        celery_settings(settings, ctx.env)
    tracing_settings(ctx.env)
    display = str(settings.config_path or "runwatch.yaml")
    config_fields.check_keys(settings.telemetry, TELEMETRY_KEYS, Location(display, key="telemetry"))
    trace_url = settings.telemetry.get("trace_url")
    if isinstance(trace_url, Secret):
        try:
            check_trace_url(trace_url.reveal())
        except DefinitionError:
            raise DefinitionError(
                "runwatch.yaml: telemetry.trace_url: the value built from ${…} is not an "
                "http(s) URL with a {trace_id} placeholder"
            ) from None
    elif trace_url is not None:
        check_trace_url(str(trace_url))
    for problem in [*_spool_rejections(ctx), *_alert_gaps(ctx)]:
        print(f"runwatch: warning: {problem}", file=sys.stderr)
    print(summary)
    if alerting.rules:
        from alerting.short_lived import needs_serve

        for note in needs_serve(alerting):
            print(f"note: {note}")
    return 0


def _check_jobs(ctx: Context) -> str:
    from runner.engine.engine import check_pools
    from runner.engine.limits import check_durations
    from runner.scheduling.schedule import check_job_schedule

    definitions = ctx.definitions
    pools = ctx.pools
    for job in definitions.jobs.values():
        # What serve checks again per job (a runner.model.Job built in Python skips the
        # loaders): check refuses it here rather than serve failing its runs.
        check_pools(job, pools)
        check_durations(job)
        check_job_schedule(job)
    tasks = sum(len(j.tasks) for j in definitions.jobs.values())
    return f"ok: {len(definitions.jobs)} jobs, {tasks} tasks, {len(pools)} pools"


def _spool_rejections(ctx: Context) -> list[str]:
    """Spooled results the store refused for good: they wait for a person."""
    from runner.wrap.spool import rejected_count, rejected_folder

    spool_dir = str(ctx.settings.home / "spool")
    count = rejected_count(spool_dir)
    if not count:
        return []
    folder = rejected_folder(spool_dir)
    return [
        f"{count} spooled results of wrapped runs were refused by the store for good and "
        f"moved to {folder} (each .reason file says why); fix and move them back to "
        f"{spool_dir} to record them, or delete them"
    ]


def _alert_gaps(ctx: Context) -> list[str]:
    """Why a failure would go unalerted with these settings (as `wrap` would say)."""
    from runner.clock import utcnow
    from runner.wrap.alert_gaps import no_rules, no_settings, serve_alive

    settings = ctx.settings
    if settings.config_path is None:
        return [no_settings(ctx.env, str(ctx.cwd))]
    never = settings.alerting.get("evaluate_in_run") == "never"
    rules = bool(settings.alerting.get("rules"))
    if rules and not never:
        return []
    try:
        alive = serve_alive(ctx.open_store(recover=False).spine_connection(), utcnow().timestamp())
    except Exception as exc:
        return [f"cannot look for a `runwatch serve` in the store: {type(exc).__name__}: {exc}"]
    return [] if alive else [no_rules(str(settings.config_path), never=rules)]
