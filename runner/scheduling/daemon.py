"""`runwatch serve`: the long-running process — scheduler, engine and periodic duties.

One thread runs the loop: the scheduler creates and starts runs, the engine drives
them, and periodic duties (heartbeat, definition reloads, and whatever the CLI adds:
alert delivery, missed-run checks, spool replay) run when due. The loop sleeps until
the earliest of the next fire time, the next duty and the next engine message.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from runner import processes, scheduler_liveness
from runner.clock import Clock, utcnow
from runner.engine.engine import Engine
from runner.engine.executor import Wakeup
from runner.errors import RunwatchError
from runner.model import Definitions
from runner.scheduling.scheduler import Scheduler
from runner.store.scheduling import orphaned_runs, release_dead_claims
from runner.store.store import Store

logger = logging.getLogger(__name__)


@dataclass
class Duty:
    """Something the daemon does every ``every`` seconds; it must not raise."""

    name: str
    every: float
    action: Callable[[datetime], None]
    due: datetime | None = None


@dataclass
class _Watch:
    paths: Sequence[Path]
    stamps: dict[Path, float] = field(default_factory=dict)

    def changed(self) -> bool:
        stamps = {}
        for root in self.paths:
            files = sorted(root.iterdir()) if root.is_dir() else [root]
            for path in files:
                try:
                    stamps[path] = path.stat().st_mtime
                except OSError:
                    continue
        changed = bool(self.stamps) and stamps != self.stamps
        self.stamps = stamps
        return changed


class Daemon:
    """Runs the scheduler and engine until SIGTERM/SIGINT, then shuts down gracefully."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        definitions: Definitions,
        *,
        load: Callable[[], Definitions],
        watch: Sequence[Path],
        shutdown_grace: float = 30.0,
        heartbeat_every: float = scheduler_liveness.DEFAULT_INTERVAL_SECONDS,
        watch_every: float = 2.0,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self.started_at = clock()
        self.scheduler = Scheduler(store, engine, definitions.jobs, now=self.started_at)
        self._load = load
        self._watch = _Watch(watch)
        self._watch.changed()
        self.shutdown_grace = shutdown_grace
        self._beat = Duty("heartbeat", heartbeat_every, self._heartbeat)
        self.duties: list[Duty] = [
            self._beat,
            Duty("release-dead-claims", 30.0, self._release_dead_claims),
        ]
        if watch_every > 0:
            self.duties.append(Duty("reload", watch_every, self._reload_if_changed))
        self._stop_signal: int | None = None
        self._reload_requested = False

    def add_duty(self, name: str, every: float, action: Callable[[datetime], None]) -> None:
        """Run ``action(now)`` every ``every`` seconds in the loop."""
        self.duties.append(Duty(name, every, action))

    # -- signals ------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: graceful shutdown; SIGHUP: reload definitions."""
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        self.request_stop(signum)

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop creating runs, let running ones finish within the grace, then cancel."""
        self._stop_signal = signum
        self.engine.messages.put(Wakeup("stop"))

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self._reload_requested = True
        self.engine.messages.put(Wakeup("reload"))

    # -- the loop -----------------------------------------------------------------

    def run(self) -> int:
        """Serve until stopped; returns the exit code."""
        self._resume_orphaned()
        logger.info(
            "serving %d jobs (%d scheduled) as %s",
            len(self.scheduler.jobs),
            len(self.scheduler.next_fire_times()),
            processes.current(),
        )
        while self._stop_signal is None:
            now = self.clock()
            if self._reload_requested:
                self._reload(now)
            self.scheduler.tick(now)
            self._run_duties(now)
            self.engine.step(timeout=self._wait_seconds(self.clock()))
        self._shutdown()
        return 0

    def _wait_seconds(self, now: datetime) -> float:
        waits = [self.scheduler.due_in(now)]
        waits += [max(0.0, (d.due - now).total_seconds()) for d in self.duties if d.due]
        return min(waits)

    def _run_duties(self, now: datetime, duties: Sequence[Duty] | None = None) -> None:
        for duty in self.duties if duties is None else duties:
            if duty.due is None or duty.due <= now:
                try:
                    duty.action(now)
                except Exception:
                    logger.exception("%s failed; will try again in %.0fs", duty.name, duty.every)
                duty.due = now + timedelta(seconds=duty.every)

    def _shutdown(self) -> None:
        self.scheduler.stopping = True
        deadline = self.clock() + timedelta(seconds=self.shutdown_grace)
        if self.engine.active:
            logger.info("waiting up to %.0fs for running runs to finish", self.shutdown_grace)
        while self.engine.active and self.clock() < deadline:
            # Still heartbeating: a serve finishing its runs within the grace is not hung.
            self._run_duties(self.clock(), [self._beat])
            left = (deadline - self.clock()).total_seconds()
            self.engine.step(timeout=max(0.0, min(left, self._beat.every)))
        if self.engine.active:
            name = signal.Signals(self._stop_signal or signal.SIGTERM).name
            self.engine.cancel(f"runwatch serve stopped by {name}")
            self.engine.run_until_done()
        self.store.heartbeat(
            scheduler_liveness.heartbeat_name(processes.current()),
            self.clock(),
            {"state": scheduler_liveness.STOPPED},
        )

    # -- duties -------------------------------------------------------------------

    def _heartbeat(self, now: datetime) -> None:
        self.store.heartbeat(
            scheduler_liveness.heartbeat_name(processes.current()),
            now,
            {
                "state": scheduler_liveness.RUNNING,
                "pid": os.getpid(),
                "jobs": len(self.scheduler.jobs),
            },
        )

    def _reload_if_changed(self, now: datetime) -> None:
        if self._watch.changed():
            self._reload(now)

    def _reload(self, now: datetime) -> None:
        self._reload_requested = False
        try:
            definitions = self._load()
        except RunwatchError as exc:
            logger.error("job definitions not reloaded, keeping the previous ones: %s", exc)
            return
        self.store.sync_jobs(definitions.jobs.values(), now)
        self.scheduler.load(definitions.jobs, now)
        self.engine.pools.update(definitions.pools)
        logger.info("reloaded %d jobs", len(definitions.jobs))

    def _resume_orphaned(self) -> None:
        """Resume scheduled runs that a crashed process left orphaned in the last day."""
        release_dead_claims(self.store)
        for run in orphaned_runs(self.store, self.started_at - timedelta(days=1)):
            self.scheduler.resume(run)

    def _release_dead_claims(self, _now: datetime) -> None:
        released = release_dead_claims(self.store)
        if released:
            logger.warning("released %d queued runs claimed by a process that died", released)
