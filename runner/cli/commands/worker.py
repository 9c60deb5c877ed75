"""`runwatch worker`: a Celery worker that executes the task attempts schedulers send.

It loads the same job files as the schedulers (from its own runwatch.yaml or --jobs),
connects to the shared store and the broker, and runs ``--concurrency`` worker
processes, each executing one attempt at a time from ``--queues``. What it runs comes
from its own job files; a message only names the attempt (see runner.executors.celery.message).
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from runner.cli.context import Context
from runner.errors import UsageError

logger = logging.getLogger(__name__)


def _queues(value: str | None, default: str) -> list[str]:
    if value is None:
        return [default]
    queues = [q.strip() for q in value.split(",") if q.strip()]
    if not queues:
        raise UsageError(f"--queues {value!r}: expected queue names separated by commas")
    return queues


def command(ctx: Context) -> int:
    """Consume attempts until SIGTERM (finish running ones) or a second SIGTERM (abort)."""
    from runner.executors.celery.settings import require_celery

    require_celery()
    from runner.executors.celery.adoption import watch_kept_commands
    from runner.executors.celery.app import create_app
    from runner.executors.celery.settings import celery_settings
    from runner.executors.celery.worker import WorkerRuntime
    from runner.store.store import Store
    from runner.taskenv import TaskEnvironment
    from runner.telemetry.log_formats import configure_daemon_logging

    args = ctx.args
    configure_daemon_logging(args.log_format, args.verbose)
    settings = celery_settings(ctx.settings, ctx.env)
    queues = _queues(args.queues, settings.queue)
    concurrency = ctx.settings.workers if args.concurrency is None else args.concurrency
    if concurrency < 1:
        raise UsageError(f"--concurrency {concurrency}: expected a whole number >= 1")
    definitions = ctx.definitions
    # Migrate (or fail) now, and close: worker processes fork and open their own.
    Store.open(ctx.settings.db_url, recover=False).close()
    runtime = WorkerRuntime(
        ctx.settings.db_url,
        definitions,
        settings,
        log_dir=ctx.settings.home / "logs",
        log_cap_bytes=ctx.settings.log_cap_bytes,
        environment=TaskEnvironment.of(ctx.env, ctx.settings.interpolated),
        redactor=ctx.redactor,
    )
    app = create_app(settings, run_attempt=runtime.run_attempt)
    worker = app.Worker(
        hostname=f"runwatch-{os.getpid()}@{socket.gethostname()}",
        queues=queues,
        concurrency=concurrency,
        pool="prefork",
        loglevel="DEBUG" if args.verbose else "INFO",
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        optimization="fair",
    )
    logger.info(
        "worker: %d processes consuming %s from %s; %d jobs; messages %s",
        concurrency,
        ",".join(queues),
        settings.broker_redacted,
        len(definitions.jobs),
        "must be signed" if settings.signing_key is not None else "are not signed",
    )
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_kept_commands,
        args=(ctx.settings.db_url, settings.heartbeat_interval, stop),
        name="kept-commands",
        daemon=True,
    )
    watcher.start()
    try:
        worker.start()
    finally:
        stop.set()
    return int(worker.exitcode or 0)
