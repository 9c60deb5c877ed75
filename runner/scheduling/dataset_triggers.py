"""Data-aware schedules: a job with ``schedule: {datasets: […], any: false}`` runs when all
(``any: true``: any) of its datasets were updated since its last such run.

Which runs to make is a function of the update log alone, never of when a scheduler
looks: the updates after the job's last data-triggered run are walked in order, and an
*update set* completes at the update by which every dataset (any one, with ``any``) was
updated since the previous set completed. The newest completed set makes one run, whose
logical time is the time of the update that completed it; runs are unique per job and
logical time, so however many ``serve`` processes look, and however often, each set
makes one run. Sets that completed while nobody looked (downtime, a paused job) are
coalesced into the newest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime

from runner.dataset_names import Dataset
from runner.model import DatasetSchedule, Job, Trigger
from runner.store import datasets
from runner.store.datasets import DatasetUpdate
from runner.store.store import Store

logger = logging.getLogger(__name__)


def completing_update(
    schedule: DatasetSchedule, updates: Iterable[DatasetUpdate]
) -> DatasetUpdate | None:
    """The update that completed the newest update set among ``updates`` (oldest first)."""
    wanted = set(schedule.datasets)
    seen: set[Dataset] = set()
    completing = None
    for update in updates:
        seen.add(update.dataset)
        if schedule.any or wanted <= seen:
            completing, seen = update, set()
    return completing


class DatasetTriggers:
    """Creates the runs of the data-aware jobs whose datasets were updated."""

    def __init__(self, jobs: Mapping[str, Job]) -> None:
        self.jobs = {name: job for name, job in jobs.items() if job.dataset_schedule is not None}
        self._seen_update = -1  # the newest update looked at; -1: none looked at yet
        self._paused: frozenset[str] = frozenset()

    def fire(self, store: Store, now: datetime) -> None:
        """Queue a run for each job whose update set completed since its last run."""
        if not self.jobs:
            return
        newest = datasets.newest_update_id(store)
        paused = frozenset(j.name for j in store.list_jobs() if j.paused)
        if newest == self._seen_update and paused == self._paused:
            return  # nothing new to run for (the cheap, usual case: one query)
        for job in self.jobs.values():
            if job.name in paused:
                continue
            try:
                self._fire(store, job, now)
            except Exception:
                # A fault in one job never stops the others; the next update tries again.
                logger.exception("job %s: its datasets could not be checked", job.name)
        self._seen_update, self._paused = newest, paused

    def _fire(self, store: Store, job: Job, now: datetime) -> None:
        schedule = job.dataset_schedule
        assert schedule is not None
        last_run = datasets.last_dataset_run_at(store, job.name)
        after = (
            0
            if last_run is None
            else datasets.last_update_id_until(store, schedule.datasets, last_run)
        )
        completing = completing_update(
            schedule, datasets.updates_of(store, schedule.datasets, after_id=after)
        )
        if completing is None:
            return
        created = store.create_run(job, completing.at, Trigger.DATASET, now)
        if created is not None:
            logger.info(
                "queued %s: %s updated by run %s of %s",
                job.name,
                completing.dataset,
                completing.run_id,
                completing.job,
                extra={"job": job.name, "run_id": created.id},
            )
