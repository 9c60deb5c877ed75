"""Recovery across hosts: the work of schedulers and workers that died, taken over.

A process on this host is dead when its pid (with its start time) is gone; a process
on another host is judged by its heartbeat. Each pass of ``OrphanRecovery.run``:

1. records the end of the attempts workers ran for dead schedulers, once decided (by
   the worker, or adopted or orphaned when the worker is gone too), then ends the
   running runs of dead schedulers (conditionally: only while they are still theirs):
   as their tasks ended, or ``orphaned`` when work is left; a run with an attempt still
   on a live worker is left running until that attempt's outcome is recorded. The
   queued runs they had claimed are released;
2. settles the attempts nobody will finish any more (running attempts of runs that no
   longer run): with the outcome their worker recorded, or adopted or orphaned when
   no worker claimed them or their worker is gone (killing a leftover process here);
3. resumes orphaned scheduled runs, within their tasks' retry budgets, once none of
   their attempts still runs on a worker (so a task never runs twice at once); a run
   whose tasks a worker finished after its scheduler died is resumed only to end it.

Every write is a conditional UPDATE, so any number of ``serve`` processes may run it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from runner import processes, scheduler_liveness
from runner.config import Settings
from runner.engine.engine import tasks_to_resume
from runner.executors.celery.adoption import settle_lost_worker
from runner.executors.celery.settings import CelerySettings, celery_settings, executor_kind
from runner.model import TaskState
from runner.scheduling.scheduler import Scheduler
from runner.store.heartbeats import heartbeats, run_supervisors
from runner.store.leases import (
    AttemptLease,
    claimed_attempts_of,
    lease,
    running_attempt_count,
    unsettled_attempts,
)
from runner.store.records import AttemptRecord, RunRecord
from runner.store.recovery import ORPHANED, fail_runs_supervised_by
from runner.store.scheduling import claim_run, orphaned_runs
from runner.store.store import Store

logger = logging.getLogger(__name__)

RESUME_WINDOW = timedelta(days=1)
"""Orphaned runs older than this are left failed."""


@dataclass(frozen=True)
class Recovered:
    """What one recovery pass did."""

    failed_runs: list[RunRecord] = field(default_factory=list)
    settled_attempts: list[AttemptRecord] = field(default_factory=list)
    resumed_runs: list[RunRecord] = field(default_factory=list)


class OrphanRecovery:
    """Takes over the work of dead schedulers and workers; call ``run`` periodically."""

    def __init__(
        self,
        store: Store,
        *,
        scheduler_stale_after: float,
        worker_stale_after: float,
    ) -> None:
        self.store = store
        self.scheduler_stale_after = scheduler_stale_after
        self.worker_stale_after = worker_stale_after

    def run(self, now: datetime, scheduler: Scheduler | None = None) -> Recovered:
        """One pass; with ``scheduler``, resume orphaned runs on its engine."""
        recovered = Recovered()
        stale_before = now - timedelta(seconds=self.worker_stale_after)
        for identity in self.dead_schedulers(now):
            for attempt, found in claimed_attempts_of(self.store, identity):
                if self._settle(attempt, found, stale_before, now):
                    recovered.settled_attempts.append(attempt)
            hung = processes.is_local(identity) and processes.is_alive(identity)
            failed = fail_runs_supervised_by(self.store, identity, now, hung=hung)
            for run in failed:
                ended = self.store.get_run(run.id)
                logger.warning(
                    "run %s of %s %s: its scheduler %s %s",
                    run.id, run.job,
                    "failed as orphaned" if ended.reason == ORPHANED else "ended " + ended.state,
                    identity, "stopped heartbeating" if hung else "is gone",
                    extra={"job": run.job, "run_id": run.id},
                )  # fmt: skip
            recovered.failed_runs.extend(failed)
        recovered.settled_attempts.extend(self.settle_attempts(now))
        if scheduler is not None:
            for run in orphaned_runs(self.store, now - RESUME_WINDOW):
                if running_attempt_count(self.store, run.id) == 0 and self.resume(scheduler, run):
                    recovered.resumed_runs.append(run)
        return recovered

    def duty(self, scheduler: Scheduler) -> Callable[[datetime], None]:
        """``run`` as a `runwatch serve` duty: ``daemon.add_duty(name, every, duty)``."""

        def action(now: datetime) -> None:
            self.run(now, scheduler)

        return action

    def resume(self, scheduler: Scheduler, run: RunRecord) -> bool:
        """Resume an orphaned run on ``scheduler``'s engine: its unfinished tasks within
        their retry budgets, or, when a worker finished them all after the scheduler
        died, just to record the run's end. True when this process took it."""
        job = scheduler.jobs.get(run.job)
        if job is None:
            return False
        rows = self.store.task_runs(run.id)
        rerun = tasks_to_resume(job, rows)
        done = all(
            name in rows and rows[name].state in (TaskState.SUCCESS, TaskState.SKIPPED)
            for name in job.tasks
        )
        if not (rerun or done) or not claim_run(self.store, run.id, reclaim=True):
            return False
        logger.info(
            "resuming run %s of %s: %s",
            run.id, job.name, ", ".join(rerun) or "every task had finished",
            extra={"job": job.name, "run_id": run.id},
        )  # fmt: skip
        scheduler.engine.start(job, run, rerun=rerun, keep_budget=True)
        return True

    def dead_schedulers(self, now: datetime) -> list[str]:
        """Supervisors of active runs that are gone: dead here, or silent (here: hung, its
        heartbeat older than the lease while it still exists) or stopped elsewhere.

        A process that never wrote a scheduler heartbeat (a `runwatch run`) is judged by
        its pid here and cannot be judged on another host: it is left alone.
        """
        me = processes.current()
        beats = heartbeats(self.store, scheduler_liveness.HEARTBEAT_PREFIX)
        stale_before = now - timedelta(seconds=self.scheduler_stale_after)
        dead = []
        for identity in sorted(run_supervisors(self.store)):
            if identity == me:
                continue
            beat = beats.get(identity)
            if processes.is_local(identity):
                silent = beat is not None and not beat.stopped and beat.at < stale_before
                if silent or not processes.is_alive(identity):
                    dead.append(identity)
                continue
            if beat is not None and (beat.stopped or beat.at < stale_before):
                dead.append(identity)
        return dead

    def settle_attempts(self, now: datetime) -> list[AttemptRecord]:
        """Record the end of running attempts whose runs no longer run."""
        stale_before = now - timedelta(seconds=self.worker_stale_after)
        return [
            attempt
            for attempt, found in unsettled_attempts(self.store)
            if self._settle(attempt, found, stale_before, now)
        ]

    def _settle(
        self, attempt: AttemptRecord, found: AttemptLease, stale_before: datetime, now: datetime
    ) -> bool:
        """Record the end of an attempt whose dispatcher is gone: the outcome its worker
        decided, or, when its worker is gone too, adopted or orphaned. True if recorded."""
        if found.outcome is None and not self._decide_orphaned(attempt, found, stale_before):
            return False
        current = lease(self.store, attempt.id)
        if current is None or current.outcome is None:
            return False
        outcome = current.outcome
        return self.store.finish_attempt(
            attempt,
            TaskState(outcome["state"]),
            now,
            exit_code=outcome.get("exit_code"),
            signal=outcome.get("signal"),
            error=outcome.get("error"),
            reason=outcome.get("reason"),
            result=outcome.get("result"),
        )

    def _decide_orphaned(
        self, attempt: AttemptRecord, found: AttemptLease, stale_before: datetime
    ) -> bool:
        """Decide an attempt nobody runs any more: adopted from its keeper's status file,
        else orphaned; False while a worker (or its command's keeper here) still runs it."""
        owner = found.supervisor
        gone = owner is not None and processes.is_local(owner) and not processes.is_alive(owner)
        silent = found.heartbeat_at is not None and found.heartbeat_at < stale_before
        if found.claimed and not gone and not silent:
            return False  # a live worker still runs it and will record its outcome
        decided = settle_lost_worker(
            self.store,
            attempt.id,
            owner or "its supervisor",
            gone=gone,
            stale_before=stale_before,
        )
        # None: its keeper still runs here, someone decided first (settled with their
        # outcome on a later pass), or a worker just claimed it.
        return decided is not None


def orphan_recovery(
    store: Store, settings: Settings, env: Mapping[str, str], *, heartbeat_every: float
) -> OrphanRecovery:
    """The recovery `runwatch serve` runs: schedulers are judged dead after four missed
    heartbeats; workers after the Celery executor's ``orphan_after``."""
    worker_stale_after = (
        celery_settings(settings, env).orphan_after
        if executor_kind(settings) == "celery"
        else CelerySettings.orphan_after
    )
    return OrphanRecovery(
        store,
        scheduler_stale_after=scheduler_liveness.stale_after(heartbeat_every),
        worker_stale_after=worker_stale_after,
    )
