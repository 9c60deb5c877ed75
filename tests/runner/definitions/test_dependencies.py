"""``schedule: {after: [...]}``: loaded, and refused naming the job and key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runner import command, job
from runner.errors import DependencyCycleError
from runner.model import Definitions, JobDependency, Period

Error = Callable[..., str]

JOBS = """
jobs:
  ingest:
    schedule: "0 2 * * *"
    command: ["true"]
  enrich:
    schedule: "0 3 * * *"
    command: ["true"]
  report:
    schedule: {after: [ingest, enrich], period: hour, timezone: Europe/Berlin}
    command: ["true"]
"""


def test_after_jobs_load_with_their_period_as_a_schedule(
    load: Callable[[str], Definitions],
) -> None:
    report = load(JOBS).jobs["report"]
    assert report.depends_on == JobDependency(("ingest", "enrich"), Period.HOUR)
    assert (report.schedule, report.timezone, report.grace) == (
        "0 * * * *",
        "Europe/Berlin",
        3600.0,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("after: [ingest, enrich]", "after: [ingest, enrch]"),
            "job 'report', key 'schedule.after': unknown job 'enrch' (did you mean 'enrich'?)",
        ),
        (
            ("period: hour", "period: week"),
            "key 'schedule.period': expected one of day, hour, got 'week'",
        ),
        (
            ("period: hour", "perod: hour"),
            "key 'schedule': unknown key 'perod' (did you mean 'period'?)",
        ),
        (
            ("timezone: Europe/Berlin}", "timezone: Europe/Berlin}\n    timezone: UTC"),
            "key 'schedule.timezone': 'Europe/Berlin' differs from the job's timezone 'UTC'",
        ),
    ],
)
def test_a_bad_dependency_is_refused_naming_the_job_and_key(
    error: Error, change: tuple[str, str], message: str
) -> None:
    text = JOBS.replace(*change)
    assert text != JOBS
    assert message in error(text)


def test_jobs_that_wait_for_each_other_are_a_cycle(error: Error) -> None:
    text = JOBS.replace('    schedule: "0 2 * * *"', "    schedule: {after: report}")
    message = error(text, kind=DependencyCycleError)
    assert "key 'schedule.after': jobs wait for each other:" in message
    assert "ingest" in message
    assert "report" in message


def test_python_jobs_take_an_after_schedule() -> None:
    @job(schedule={"after": ["ingest"], "period": "day"})
    def report() -> None:
        command("send", ["true"])

    assert report.depends_on == JobDependency(("ingest",), Period.DAY)
    assert report.schedule == "0 0 * * *"


def test_a_job_sensor_naming_an_unknown_job_is_refused(error: Error) -> None:
    text = JOBS + "  gated:\n    tasks:\n      wait:\n        sensor: {job: ingst, timeout: 1h}\n"
    assert (
        "job 'gated', task 'wait', key 'sensor.job': unknown job 'ingst' (did you mean 'ingest'?)"
        in error(text)
    )
