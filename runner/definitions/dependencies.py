"""Job-to-job dependencies: ``schedule: {after: [ingest, enrich], period: day}``.

The job runs once per period (in its timezone) when every named job has a successful
run with a logical time in that period; its run's logical time is the period's start.
Its ``schedule`` becomes the period's start as a cron expression, so lateness,
``grace`` and ``run_missed`` work as for any scheduled job (``grace`` defaults to one
period). Every named job (and every job a ``job:`` sensor names) must exist and the
dependencies must not form a cycle.
"""

from __future__ import annotations

import difflib
import graphlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner import config_fields
from runner.config_fields import Location, choice, shown
from runner.errors import DefinitionError, DependencyCycleError
from runner.model import Job, JobDependency, Period, SensorKind

PERIOD_CRON = {Period.DAY: "0 0 * * *", Period.HOUR: "0 * * * *"}
PERIOD_SECONDS = {Period.DAY: 86_400.0, Period.HOUR: 3_600.0}
KEYS = ("after", "period", "timezone")


@dataclass(frozen=True)
class DependencySchedule:
    """What ``schedule: {after: …}`` says, before it is folded into the job's fields."""

    dependency: JobDependency
    timezone: str | None


def dependency_schedule(value: Mapping[str, Any], where: Location) -> DependencySchedule:
    """Read ``{after: [jobs], period: day|hour, timezone: TZ}``."""
    from runner.definitions import fields  # fields reads the schedule key through this

    config_fields.check_keys(value, KEYS, where)
    raw = value["after"]
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not items:
        raise where.at("after").error(f"expected a job name or a list of them, got {shown(raw)}")
    jobs = tuple(dict.fromkeys(fields.name(item, where.at("after"), "job") for item in items))
    period = choice(value.get("period", "day"), where.at("period"), Period)
    timezone = value.get("timezone")
    if timezone is not None:
        timezone = fields.timezone(timezone, where.at("timezone"))
    return DependencySchedule(JobDependency(jobs, period), timezone)


def fold(options: dict[str, Any], where: Location) -> None:
    """Turn a ``DependencySchedule`` among a job's ``options`` into its fields."""
    found = options.get("schedule")
    if not isinstance(found, DependencySchedule):
        return
    period = found.dependency.period
    options["schedule"] = PERIOD_CRON[period]
    options["depends_on"] = found.dependency
    if found.timezone is not None:
        if options.get("timezone", found.timezone) != found.timezone:
            raise (
                where.at("schedule")
                .at("timezone")
                .error(
                    f"{found.timezone!r} differs from the job's timezone {options['timezone']!r}"
                )
            )
        options["timezone"] = found.timezone
    options.setdefault("grace", PERIOD_SECONDS[period])


def check_dependencies(jobs: Mapping[str, Job]) -> None:
    """Raise DefinitionError for a job named in ``after`` (or by a ``job:`` sensor) that
    does not exist, and DependencyCycleError for jobs that wait for each other."""
    graph: dict[str, tuple[str, ...]] = {}
    for job in jobs.values():
        for task in job.tasks.values():
            if task.sensor is not None and task.sensor.kind is SensorKind.JOB:
                _known(jobs, job, str(task.sensor.target), f"task {task.name!r}, key 'sensor.job'")
        if job.depends_on is None:
            continue
        for upstream in job.depends_on.jobs:
            _known(jobs, job, upstream, "key 'schedule.after'")
        graph[job.name] = job.depends_on.jobs
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1])
        raise DependencyCycleError(
            f"{jobs[cycle[0]].source}: job {cycle[0]!r}, key 'schedule.after': jobs wait for "
            f"each other: {' -> '.join(reversed(cycle))}",
            cycle,
        ) from None


def _known(jobs: Mapping[str, Job], job: Job, other: str, key: str) -> None:
    """Raise DefinitionError when ``other``, named by ``job`` at ``key``, is no other job."""
    if other in jobs and other != job.name:
        return
    close = difflib.get_close_matches(other, [j for j in jobs if j != job.name], 1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DefinitionError(f"{job.source}: job {job.name!r}, {key}: unknown job {other!r}{hint}")
