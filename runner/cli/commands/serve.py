"""`runwatch serve`: the scheduler daemon with its HTTP listener."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from runner.cli.context import Context
from runner.durations import parse_duration
from runner.errors import UsageError

logger = logging.getLogger(__name__)


def _configure_logging(fmt: str, verbose: bool) -> None:
    from runner.telemetry.logging import log_handler

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(log_handler(sys.stderr, json_format=fmt == "json"))
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def command(ctx: Context) -> int:
    """Serve until SIGTERM/SIGINT: schedule, run, watch; GET /healthz and /metrics."""
    from runner.clock import utcnow
    from runner.daemon import Daemon
    from runner.engine.factory import build_engine
    from runner.http_api import HttpServer
    from runner.telemetry.health import HeartbeatHealth

    args = ctx.args
    _configure_logging(args.log_format, args.verbose)
    try:
        grace = parse_duration(args.shutdown_grace)
    except ValueError as exc:
        raise UsageError(f"--shutdown-grace: {exc}") from None
    server_settings = ctx.settings.server
    listen = args.listen or str(server_settings.get("listen", "127.0.0.1:9464"))
    definitions = ctx.definitions
    store = ctx.open_store()
    store.sync_jobs(definitions.jobs.values(), utcnow())
    engine = build_engine(ctx.settings, store, pools=ctx.pools)
    paths = [Path(p) for p in (args.jobs or [])] or list(ctx.settings.job_paths)
    if ctx.settings.config_path is not None:
        paths.append(ctx.settings.config_path)

    def reload() -> object:
        ctx.__dict__.pop("definitions", None)
        return ctx.definitions

    daemon = Daemon(
        store,
        engine,
        definitions,
        load=reload,
        watch=paths,  # type: ignore[arg-type]
        shutdown_grace=grace,
    )
    server = HttpServer(listen)
    health = HeartbeatHealth(lambda: _last_heartbeat(store_for_http))
    store_for_http = ctx.open_store(recover=False)
    server.route("GET", "/healthz", lambda _request: _health_response(health))
    server.start()
    logger.info("listening on %s", server.url)
    daemon.install_signal_handlers()
    try:
        return daemon.run()
    finally:
        server.stop()
        engine.close()
