"""The synthetic fleet stands in faithfully for the /metrics of `runwatch serve`."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.grafana.contract import CONTRACT
from tests.grafana.fleet_exporter import FleetSimulation


def _scrape(fleet: FleetSimulation) -> dict[str, dict[str, list[dict[str, str]]]]:
    """Family name → sample name → label sets, from one text-format scrape."""
    body, _ = fleet.scrape("text/plain; version=0.0.4")
    families: dict[str, dict[str, list[dict[str, str]]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        samples = families.setdefault(family.name, {})
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample.labels)
    return families


def test_the_synthetic_fleet_exposes_every_contract_metric_with_its_labels() -> None:
    families = _scrape(FleetSimulation())
    for metric in CONTRACT:
        family_name = metric.name.removesuffix("_total")
        assert family_name in families, metric.name
        sample_name = metric.name + ("_bucket" if metric.type == "histogram" else "")
        label_sets = families[family_name][sample_name]
        extra = {"le"} if metric.type == "histogram" else set()
        assert all(set(labels) == set(metric.labels) | extra for labels in label_sets), metric.name


def test_every_scrape_finishes_one_run_of_each_job() -> None:
    fleet = FleetSimulation()
    for _ in range(3):
        fleet.scrape(None)
    registry = fleet.metrics.registry
    for job in fleet.jobs:
        finished = sum(
            registry.get_sample_value("runwatch_job_runs_total", {"job": job.name, "status": s})
            or 0
            for s in ("success", "failed", "cancelled")
        )
        assert finished == 3, job.name
    failed = {"job": "hourly-report", "status": "failed"}
    assert registry.get_sample_value("runwatch_job_runs_total", failed) == 3
    retried = {"job": "nightly-etl", "task": "extract"}
    assert registry.get_sample_value("runwatch_task_retries_total", retried) == 3
