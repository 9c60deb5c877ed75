"""The nightly ETL as a Python job: the same steps, passing results between tasks."""

from __future__ import annotations

from etl import steps

from runner import job, task

extract = task(steps.extract)
validate = task(steps.validate)
transform = task(steps.transform)
load = task(retries=2, retry_delay="1s")(steps.load)
report = task(steps.report)


@job(
    name="nightly-etl-py",
    schedule="30 2 * * *",
    timezone="Europe/Berlin",
    owner="data-team",
    tags=["etl", "warehouse"],
    timeout="10m",
)
def nightly_etl_py() -> None:
    """Extract -> validate -> transform -> load (flaky, retried) -> report."""
    report(load(transform(validate(extract()))))
