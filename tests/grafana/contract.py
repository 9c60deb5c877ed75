"""The metrics contract (issues 4 and 6) that the dashboards and rules build on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContractMetric:
    """One metric family runwatch serves at /metrics."""

    name: str
    type: str
    labels: tuple[str, ...]


CONTRACT = (
    ContractMetric("runwatch_job_runs_total", "counter", ("job", "status")),
    ContractMetric("runwatch_task_attempts_total", "counter", ("job", "task", "status")),
    ContractMetric("runwatch_task_retries_total", "counter", ("job", "task")),
    ContractMetric("runwatch_job_duration_seconds", "histogram", ("job",)),
    ContractMetric("runwatch_task_duration_seconds", "histogram", ("job", "task")),
    ContractMetric("runwatch_job_last_success_timestamp_seconds", "gauge", ("job",)),
    ContractMetric("runwatch_job_last_run_timestamp_seconds", "gauge", ("job",)),
    ContractMetric("runwatch_job_next_run_timestamp_seconds", "gauge", ("job",)),
    ContractMetric("runwatch_job_last_run_failed", "gauge", ("job",)),
    ContractMetric("runwatch_runs_in_progress", "gauge", ("job",)),
    ContractMetric("runwatch_scheduler_lag_seconds", "histogram", ()),
    ContractMetric("runwatch_scheduler_heartbeat_timestamp_seconds", "gauge", ()),
    ContractMetric(
        "runwatch_dataset_last_update_timestamp_seconds", "gauge", ("namespace", "dataset")
    ),
    ContractMetric("runwatch_job_info", "gauge", ("job", "owner", "schedule", "timezone")),
    ContractMetric("runwatch_build_info", "gauge", ("version",)),
    ContractMetric("runwatch_alerts_firing", "gauge", ("severity",)),
    ContractMetric("runwatch_notifications_total", "counter", ("receiver", "status")),
)

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def series_names() -> frozenset[str]:
    """Every series name a scrape of the contract can yield (histograms expanded)."""
    names: set[str] = set()
    for metric in CONTRACT:
        if metric.type == "histogram":
            names.update(metric.name + suffix for suffix in HISTOGRAM_SUFFIXES)
        else:
            names.add(metric.name)
    return frozenset(names)
