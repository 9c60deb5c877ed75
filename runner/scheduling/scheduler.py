"""The scheduler: turns fire times into runs and hands claimed runs to the engine.

It owns *when*: for each unpaused job with a schedule it creates the runs whose fire
times have come (unique per job and logical time, so a restart or a second scheduler
never creates one twice), applies the overlap and catchup policies, and starts queued
runs as ``max_active_runs`` allows. Runs are claimed atomically in the store, so any
number of schedulers can share one database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from runner.engine.engine import Engine, tasks_to_resume
from runner.errors import DefinitionError, InvalidScheduleError
from runner.events import RunSkipped
from runner.model import Job, Overlap, RunState, Trigger
from runner.scheduling.after import fire_after
from runner.scheduling.schedule import FireTime, Schedule, check_job_schedule
from runner.store.records import RunRecord
from runner.store.scheduling import active_runs, claim_run, last_fire_time, queued_runs
from runner.store.store import Store

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
"""How often queued runs (manual triggers, queued fire times, other schedulers') are
looked for; fire times themselves are waited for exactly."""

CATCHUP_LIMIT = 10_000
"""The most missed fire times one job may create at once with ``catchup: true``."""


class Scheduler:
    """Creates and starts scheduled runs; call ``tick`` whenever ``due_in`` says so."""

    def __init__(
        self, store: Store, engine: Engine, jobs: Mapping[str, Job], *, now: datetime
    ) -> None:
        self.store = store
        self.engine = engine
        self.jobs: dict[str, Job] = {}
        self._schedules: dict[str, Schedule] = {}
        self._last: dict[str, datetime] = {}
        self._next: dict[str, FireTime] = {}
        self._next_poll = now
        self._unknown_logged: set[str] = set()
        self.stopping = False
        self.on_next_fire: Callable[[str, datetime], None] | None = None
        """Told each job's new next fire time as soon as it changes (metrics)."""
        self.load(jobs, now)

    # -- definitions --------------------------------------------------------------

    def load(self, jobs: Mapping[str, Job], now: datetime) -> None:
        """Use these job definitions from now on (runs already going keep theirs)."""
        schedules: dict[str, Schedule] = {}
        for name, job in jobs.items():
            if job.schedule is None or job.depends_on is not None:  # after: other jobs
                continue
            try:
                check_job_schedule(job)
            except InvalidScheduleError as exc:
                # A fault in one job never stops the others: this one is left unscheduled.
                logger.error("job %s is not scheduled: %s", name, exc, extra={"job": name})
                continue
            old = self._schedules.get(name)
            same = old is not None and (old.expr, old.timezone, old.dst) == (
                job.schedule,
                job.timezone,
                job.dst,
            )
            schedules[name] = (
                old if same and old is not None else Schedule(job.schedule, job.timezone, job.dst)
            )
            if name not in self._last or not same:
                self._last[name] = last_fire_time(self.store, name) or now
            self._next[name] = schedules[name].next_after(self._last[name])
        for gone in set(self._next) - set(schedules):
            self._next.pop(gone, None)
            self._last.pop(gone, None)
        self.jobs = dict(jobs)
        self._schedules = schedules

    def next_fire_times(self) -> dict[str, datetime]:
        """The next fire time of every scheduled job."""
        return {name: fire.at for name, fire in self._next.items()}

    # -- the loop -----------------------------------------------------------------

    def due_in(self, now: datetime) -> float:
        """Seconds until the next fire time or queue poll, whichever comes first."""
        soonest = min([f.at for f in self._next.values()] + [self._next_poll])
        return max(0.0, (soonest - now).total_seconds())

    def tick(self, now: datetime) -> None:
        """Create the runs whose fire times have come and start what may start."""
        if self.stopping:
            return
        due = [name for name, fire in self._next.items() if fire.at <= now]
        if due:
            paused = {j.name for j in self.store.list_jobs() if j.paused}
            for name in due:
                try:
                    self._fire_due(self.jobs[name], now, paused=name in paused)
                except Exception:
                    # A fault in one job never stops the others: stop scheduling this one.
                    logger.exception(
                        "job %s could not be scheduled; it is not scheduled again until its "
                        "definition is reloaded",
                        name,
                        extra={"job": name},
                    )
                    self._next.pop(name, None)
        if due or now >= self._next_poll:
            self._fire_after(now)
            self._start_queued(now)
            self._next_poll = now + timedelta(seconds=POLL_SECONDS)

    def _fire_after(self, now: datetime) -> None:
        dependent = [job for job in self.jobs.values() if job.depends_on is not None]
        if dependent:
            paused = {j.name for j in self.store.list_jobs() if j.paused}
            fire_after(self.store, dependent, now, paused)

    def _fire_due(self, job: Job, now: datetime, *, paused: bool) -> None:
        schedule = self._schedules[job.name]
        last = self._last[job.name]
        if job.catchup and not paused:
            fires = schedule.between(last, now, limit=CATCHUP_LIMIT)
        else:
            fires = [self._latest_due(job.name, now)]
        if not paused:
            for fire in fires:
                self._fire(job, fire, now)
        if fires:
            self._last[job.name] = fires[-1].at
        self._next[job.name] = schedule.next_after(max(now, self._last[job.name]))
        if self.on_next_fire is not None:
            self.on_next_fire(job.name, self._next[job.name].at)

    def _latest_due(self, name: str, now: datetime) -> FireTime:
        """The newest fire time at or before ``now`` (the due one, unless more passed)."""
        due = self._next[name]
        if self._schedules[name].next_after(due.at).at > now:
            return due
        latest = self._schedules[name].latest_at_or_before(now)
        return latest if latest is not None else due

    def _fire(self, job: Job, fire: FireTime, now: datetime) -> None:
        running = active_runs(self.store, job.name)
        # Backfill runs never cost a fire time its run: it queues and goes first (the
        # backfill starts no more runs while it waits).
        blocking = [r for r in running if r.trigger is not Trigger.BACKFILL]
        if job.overlap is Overlap.SKIP and len(blocking) >= job.max_active_runs:
            reason = (
                f"run {blocking[0].id} still running (overlap: skip, "
                f"max_active_runs: {job.max_active_runs})"
            )
            self.store.append(RunSkipped(at=now, job=job.name, logical_time=fire.at, reason=reason))
            logger.info(
                "skipped %s at %s: %s",
                job.name,
                fire.at.isoformat(),
                reason,
                extra={"job": job.name},
            )
            return
        if job.overlap is Overlap.CANCEL_PREVIOUS:
            for run in running:
                self.engine.cancel(
                    "cancelled by the next fire time (overlap: cancel_previous)", run.id
                )
        created = self.store.create_run(job, fire.at, Trigger.SCHEDULE, now)
        if created is not None:
            logger.info(
                "queued %s for %s%s",
                job.name,
                fire.at.isoformat(),
                f" ({fire.shifted} at a DST transition)" if fire.shifted else "",
                extra={"job": job.name, "run_id": created.id},
            )

    def _start_queued(self, now: datetime) -> None:
        active: dict[str, int] = {}
        for run in queued_runs(self.store):
            job = self.jobs.get(run.job)
            if job is None:
                if run.job not in self._unknown_logged:
                    logger.warning("queued run %s of unknown job %s left queued", run.id, run.job)
                    self._unknown_logged.add(run.job)
                continue
            if run.job not in active:
                active[run.job] = len(active_runs(self.store, run.job))
            if active[run.job] >= job.max_active_runs:
                continue
            if claim_run(self.store, run.id):
                active[run.job] += 1
                self._start(job, run, now)

    def _start(self, job: Job, run: RunRecord, now: datetime) -> None:
        logger.info(
            "starting run %s of %s for %s",
            run.id,
            job.name,
            run.logical_time.isoformat(),
            extra={"job": job.name, "run_id": run.id},
        )
        self._launch(job, run, now)

    def _launch(
        self,
        job: Job,
        run: RunRecord,
        now: datetime,
        *,
        rerun: Iterable[str] = (),
        keep_budget: bool = False,
    ) -> None:
        try:
            self.engine.start(job, run, rerun=rerun, keep_budget=keep_budget)
        except Exception as exc:
            # A fault in one job's run fails that run and never stops the scheduler.
            known = isinstance(exc, DefinitionError)  # said in full by its message
            said = str(exc) if known else f"{type(exc).__name__}: {exc}"
            reason = f"runwatch could not start the run: {said}"
            logger.error(
                "run %s of %s failed: %s",
                run.id,
                job.name,
                reason,
                exc_info=not known,
                extra={"job": job.name, "run_id": run.id},
            )
            self.store.mark_run_finished(run, RunState.FAILED, now, reason=reason)

    def resume(self, run: RunRecord) -> None:
        """Resume a run a dead scheduler left behind, within each task's retry budget."""
        job = self.jobs.get(run.job)
        if job is None:
            return
        rerun = tasks_to_resume(job, self.store.task_runs(run.id))
        if rerun and claim_run(self.store, run.id, reclaim=True):
            logger.info(
                "resuming run %s of %s: %s",
                run.id,
                job.name,
                ", ".join(rerun),
                extra={"job": job.name, "run_id": run.id},
            )
            self._launch(job, run, self.engine.clock(), rerun=rerun, keep_budget=True)
