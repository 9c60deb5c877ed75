"""Fixtures: what Prometheus scrapes, and a real Prometheus scraping it with the shipped config."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from tests.e2e.prometheus import PrometheusServer, require_binary, running_prometheus
from tests.grafana.dashboard_json import GRAFANA
from tests.grafana.fleet_exporter import FleetSimulation, serving_fleet
from tests.grafana.serve_target import serving_runwatch

SCRAPE_JOB = "runwatch"  # the scrape job name of grafana/prometheus/prometheus.yml
SCRAPES_BEFORE_QUERYING = 5
SERVE_MAY_BE_EMPTY: frozenset[str] = frozenset()
"""Panels a short real run cannot fill."""


@dataclass(frozen=True)
class ScrapeTarget:
    """A runwatch /metrics endpoint, and what the dashboards should show of it."""

    address: str  # host:port that serves /metrics
    job_in_depth: str  # the job to show in the one-job dashboard
    # Panel queries ("dashboard uid/panel title/refId") allowed to return no data.
    may_be_empty: frozenset[str] = field(default_factory=frozenset)
    # Alerting rules of rules.yml expected firing or pending on this target's data.
    active_alerts: frozenset[str] = field(default_factory=frozenset)


@pytest.fixture(scope="session", params=["simulated-fleet", "runwatch-serve"])
def scrape_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScrapeTarget]:
    """The /metrics that Prometheus scrapes: a simulated fleet exposing the whole contract,
    and a real `runwatch serve` running example jobs with successes, failures and retries
    on second-level schedules, with an alert receiver that is down."""
    if request.param == "runwatch-serve":
        with serving_runwatch(tmp_path_factory.mktemp("serve")) as address:
            yield ScrapeTarget(
                address=address,
                job_in_depth="nightly-etl",
                may_be_empty=SERVE_MAY_BE_EMPTY,
                active_alerts=frozenset({"RunwatchJobFailed", "RunwatchNotificationsFailing"}),
            )
        return
    with serving_fleet(FleetSimulation()) as address:
        yield ScrapeTarget(
            address=address,
            job_in_depth="nightly-etl",
            # hourly-report fails and is three intervals past its last success (pending:
            # the rule waits 5 minutes); pagerduty-oncall fails every notification.
            active_alerts=frozenset(
                {"RunwatchJobFailed", "RunwatchJobStale", "RunwatchNotificationsFailing"}
            ),
        )


def scrape_config_for(address: str) -> dict[str, Any]:
    """The shipped grafana/prometheus/prometheus.yml, scraping `address` every second."""
    config_dir = GRAFANA / "prometheus"
    config: dict[str, Any] = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    config["global"] = {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
    }
    config["rule_files"] = [str(config_dir / name) for name in config["rule_files"]]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == SCRAPE_JOB]
    job["static_configs"] = [{"targets": [address]}]
    return config


@pytest.fixture(scope="session")
def prometheus(
    scrape_target: ScrapeTarget, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """A real Prometheus that has scraped the target a few times and evaluated the rules."""
    require_binary("prometheus")
    config = scrape_config_for(scrape_target.address)
    with running_prometheus(config, tmp_path_factory.mktemp("prometheus")) as server:
        server.wait_for(
            f'count_over_time(up{{job="{SCRAPE_JOB}"}}[1m]) >= {SCRAPES_BEFORE_QUERYING}'
            f' and up{{job="{SCRAPE_JOB}"}} == 1'
        )
        yield server
