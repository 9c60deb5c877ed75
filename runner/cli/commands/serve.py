"""`runwatch serve`: the scheduler daemon, its HTTP listener and its event-log consumers.

The composition root of the long-running process: the daemon (scheduler + engine) on
the main thread; the HTTP server (/metrics, /healthz, the ping API) and the alert
engine on threads of their own, each with its own store connection.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from runner.cli.context import Context
from runner.durations import parse_duration
from runner.errors import UsageError
from runner.model import Definitions
from runner.redaction import Redactor
from runner.store.store import Store

logger = logging.getLogger(__name__)

ALERT_POLL_SECONDS = 0.25
"""How often the alert engine looks for new events and due notifications."""


class AlertLoop(threading.Thread):
    """Evaluates alert rules over new events and delivers due notifications, until stopped."""

    def __init__(self, store: Store, config: Any, redactor: Redactor) -> None:
        super().__init__(name="runwatch-alerts", daemon=True)
        from alerting import AlertEngine, Sender

        self.store = store
        self.engine = AlertEngine(store, config)
        self.sender = Sender(store, config, redactor=redactor)
        self.stopped = threading.Event()

    def run(self) -> None:
        """Loop until ``stop``; a failing pass is logged and retried, never fatal."""
        while not self.stopped.wait(ALERT_POLL_SECONDS):
            try:
                self.engine.evaluate()
                self.sender.deliver_due()
            except Exception:
                logger.exception("alerting pass failed; retrying")

    def stop(self) -> None:
        """Finish the current pass and close the receivers."""
        self.stopped.set()
        self.join(timeout=10)
        self.sender.close()


def command(ctx: Context) -> int:  # noqa: PLR0915 - the composition root, read top to bottom
    """Serve until SIGTERM/SIGINT: schedule, run, watch; GET /healthz and /metrics."""
    from prometheus_client import CollectorRegistry

    from alerting import firing_alert_counts, load_alerting, notification_counts
    from runner import scheduler_liveness
    from runner.clock import utcnow
    from runner.executors.factory import build_engine
    from runner.scheduling.daemon import Daemon
    from runner.scheduling.expectations import check_expectations
    from runner.server.heartbeat_ping import HeartbeatPinger
    from runner.server.http_api import parse_listen, telemetry_server
    from runner.server.ping_api import PingPolicy, register_ping_routes
    from runner.server.settings import server_settings
    from runner.telemetry.alert_metrics import AlertMetrics
    from runner.telemetry.consumer import MetricsConsumer
    from runner.telemetry.factory import build_tracing
    from runner.telemetry.health import HeartbeatHealth
    from runner.telemetry.log_formats import configure_daemon_logging
    from runner.telemetry.metrics import MetricsCollector
    from runner.wrap.spool import rejected_count, spool_replayer

    args = ctx.args
    configure_daemon_logging(args.log_format, args.verbose)
    try:
        grace = parse_duration(args.shutdown_grace)
    except ValueError as exc:
        raise UsageError(f"--shutdown-grace: {exc}") from None
    settings = server_settings(ctx.settings)  # a typo fails here, before the store is touched
    listen = args.listen or settings.listen
    parse_listen(listen)
    tls = settings.tls_context()
    watch_every, beat_every = settings.watch_interval, settings.heartbeat_interval
    alerting = load_alerting(ctx.settings)
    definitions = ctx.definitions
    ctx.check_store_file()
    store = ctx.open_store()
    store.sync_jobs(definitions.jobs.values(), utcnow())
    observer = build_tracing(ctx.env, install_global=True)
    engine = build_engine(
        ctx.settings,
        store,
        pools=ctx.pools,
        observer=observer,
        env=ctx.env,
        redactor=ctx.redactor,
    )

    registry = CollectorRegistry()
    collector = MetricsCollector(registry)
    consumer = MetricsConsumer(ctx.open_store(recover=False), collector)
    consumer.start()
    alert_store = ctx.open_store(recover=False)
    registry.register(
        AlertMetrics(
            lambda: notification_counts(alert_store),
            lambda: firing_alert_counts(alert_store),
            alerting.receivers,
        )
    )

    def reload() -> Definitions:
        ctx.__dict__.pop("definitions", None)
        return ctx.definitions

    paths = [Path(p) for p in (args.jobs or [])] or list(ctx.settings.job_paths)
    if ctx.settings.config_path is not None:
        paths.append(ctx.settings.config_path)
    daemon = Daemon(
        store,
        engine,
        definitions,
        load=reload,
        watch=paths if watch_every else [],
        shutdown_grace=grace,
        heartbeat_every=beat_every,
        watch_every=watch_every,
    )

    spool_dir = str(ctx.settings.home / "spool")

    def refresh_metrics(now: Any) -> None:
        collector.heartbeat(now)
        collector.set_spool_rejected(rejected_count(spool_dir))
        collector.set_jobs(daemon.scheduler.jobs.values(), daemon.scheduler.next_fire_times())

    daemon.add_duty("metrics", beat_every, refresh_metrics)
    from runner.executors.celery.recovery import orphan_recovery

    recovery = orphan_recovery(store, ctx.settings, ctx.env, heartbeat_every=beat_every)
    daemon.add_duty(
        "recover-orphans",
        min(5.0, beat_every),
        recovery.duty(daemon.scheduler),
    )

    if settings.heartbeat_url is not None:
        pinger = HeartbeatPinger(settings.heartbeat_url)
        daemon.add_duty("heartbeat-url", beat_every, pinger.ping)

    def expectations(now: Any) -> None:
        check_expectations(store, now)

    daemon.add_duty("expectations", 5.0, expectations)
    daemon.add_duty("spool", 30.0, spool_replayer(spool_dir, store.spine_connection()))
    daemon.scheduler.on_next_fire = collector.set_next_run
    health = HeartbeatHealth(
        lambda: collector.last_heartbeat_at,
        max_age_seconds=scheduler_liveness.stale_after(beat_every),
    )

    server = telemetry_server(
        listen, render=consumer.exposition, health=health, limits=settings.limits, tls=tls
    )
    ping_api = None
    if settings.secret is not None:
        policy = PingPolicy(
            lambda: {name: job.pingable for name, job in daemon.scheduler.jobs.items()},
            max_ping_jobs=settings.max_ping_jobs,
        )
        ping_api = register_ping_routes(
            server, ctx.settings.db_url, settings.secret, policy=policy, redactor=ctx.redactor
        )
    else:
        logger.info("ping API off: set server.token in runwatch.yaml to accept remote pings")
    alerts = AlertLoop(ctx.open_store(recover=False), alerting, ctx.redactor)
    # Before anything answers: a SIGTERM as soon as /healthz is up must stop serve cleanly.
    daemon.install_signal_handlers()
    server.start()
    alerts.start()
    logger.info("listening on %s", server.url)
    try:
        return daemon.run()
    finally:
        alerts.stop()
        server.stop()
        if ping_api is not None:
            ping_api.close()
        engine.close()
