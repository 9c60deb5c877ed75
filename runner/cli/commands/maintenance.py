"""Store maintenance and validation: `db upgrade`, `db prune`, `check`."""

from __future__ import annotations

from datetime import timedelta

from runner.cli.context import Context
from runner.durations import parse_duration
from runner.errors import DefinitionError, UsageError


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
    """Validate settings and every job; exit 2 with the first problem found."""
    from runner.engine.engine import check_pools

    definitions = ctx.definitions
    pools = ctx.pools
    for job in definitions.jobs.values():
        check_pools(job, pools)
    from alerting import load_alerting
    from runner.distributed.settings import celery_settings, executor_kind
    from runner.secret import Secret
    from runner.server_settings import check_server_settings
    from runner.telemetry.config import tracing_settings
    from runner.telemetry.links import check_trace_url

    check_server_settings(ctx.settings)
    alerting = load_alerting(ctx.settings)
    if executor_kind(ctx.settings) == "celery":
        celery_settings(ctx.settings, ctx.env)
    tracing_settings(ctx.env)
    trace_url = ctx.settings.telemetry.get("trace_url")
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
    tasks = sum(len(j.tasks) for j in definitions.jobs.values())
    print(f"ok: {len(definitions.jobs)} jobs, {tasks} tasks, {len(pools)} pools")
    if alerting.rules:
        from alerting.inprocess import needs_serve

        for note in needs_serve(alerting):
            print(f"note: {note}")
    return 0
