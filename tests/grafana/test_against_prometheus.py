"""Both dashboards and the rules, run by a real Prometheus against runwatch's /metrics.

Prometheus (the Debian binary) scrapes the `scrape_target` fixture every second with
the shipped prometheus.yml and rules.yml; then every panel query, with its template
variables filled in as Grafana would, goes to the HTTP API.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.prometheus import PrometheusServer, finite_values
from tests.grafana.conftest import ScrapeTarget
from tests.grafana.dashboard_json import (
    DASHBOARD_UIDS,
    PanelQuery,
    load_dashboard,
    panel_queries,
    parse_label_values,
    regex_of,
    substitute,
    variables,
)

RANGE_SECONDS = 60
RULE_EVALUATION_TIMEOUT_SECONDS = 15.0


@pytest.fixture(scope="module")
def variable_values(
    prometheus: PrometheusServer, scrape_target: ScrapeTarget
) -> dict[str, dict[str, str]]:
    """Template variable values per dashboard: every job on the overview, one on the job view."""
    jobs = sorted(prometheus.api("label/job/values", {"match[]": "runwatch_job_info"}))
    common = {"DS_PROMETHEUS": "runwatch-prometheus", "owner": ".*"}
    return {
        "runwatch-overview": {**common, "job": regex_of(jobs)},
        "runwatch-job": {**common, "job": scrape_target.job_in_depth},
    }


@pytest.mark.parametrize("query", panel_queries(), ids=lambda query: query.name)
def test_panel_query_is_valid_and_returns_data(
    query: PanelQuery,
    prometheus: PrometheusServer,
    variable_values: dict[str, dict[str, str]],
    scrape_target: ScrapeTarget,
) -> None:
    expr = substitute(query.expr, variable_values[query.dashboard])
    if query.instant:
        result = prometheus.query(expr)
    else:
        now = time.time()
        result = prometheus.query_range(expr, now - RANGE_SECONDS, now, 1)
    if query.name not in scrape_target.may_be_empty:
        assert finite_values(result), f"{query.name} has no data:\n{expr}"


@pytest.mark.parametrize("uid", DASHBOARD_UIDS)
@pytest.mark.parametrize("name", ["owner", "job"])
def test_variable_query_lists_what_runwatch_job_info_holds(
    uid: str, name: str, prometheus: PrometheusServer, scrape_target: ScrapeTarget
) -> None:
    query = parse_label_values(variables(load_dashboard(uid))[name]["query"])
    assert query.selector is not None
    selector = substitute(query.selector, {"owner": ".*"})
    listed = prometheus.api(f"label/{query.label}/values", {"match[]": selector})
    held = {series["metric"][query.label] for series in prometheus.query("runwatch_job_info")}
    assert set(listed) == held
    if name == "job":
        # With honor_labels the runwatch job names survive the scrape as `job`.
        assert scrape_target.job_in_depth in listed


def _evaluated_rules(prometheus: PrometheusServer) -> list[dict[str, Any]]:
    """All rules once each has been evaluated at least once."""
    deadline = time.monotonic() + RULE_EVALUATION_TIMEOUT_SECONDS
    while True:
        groups = prometheus.api("rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if rules and all(rule["health"] != "unknown" for rule in rules):
            return rules
        assert time.monotonic() < deadline, "rules were not evaluated"
        time.sleep(0.1)


def test_every_rule_evaluates_cleanly_on_real_series(prometheus: PrometheusServer) -> None:
    rules = _evaluated_rules(prometheus)
    unhealthy = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert unhealthy == {}
    for rule in rules:
        if rule["type"] == "recording":
            assert finite_values(prometheus.query(rule["name"])), f"{rule['name']} recorded nothing"


def test_alert_states_follow_their_expressions_on_real_series(
    prometheus: PrometheusServer, scrape_target: ScrapeTarget
) -> None:
    rules = [rule for rule in _evaluated_rules(prometheus) if rule["type"] == "alerting"]
    active = set()
    for rule in rules:
        matching = {_identity(series["metric"]) for series in prometheus.query(rule["query"])}
        alerting = {_identity(alert["labels"], drop=rule["labels"]) for alert in rule["alerts"]}
        assert alerting == matching, rule["name"]
        if alerting:
            active.add(rule["name"])
    assert "RunwatchSchedulerDown" not in active, "the scrape target is up and its heartbeat fresh"
    assert active == scrape_target.active_alerts


def _identity(
    labels: dict[str, str], drop: dict[str, str] | None = None
) -> frozenset[tuple[str, str]]:
    """An alert's identifying labels: the series labels without rule-added ones."""
    return frozenset(
        (name, value)
        for name, value in labels.items()
        if name not in ("__name__", "alertname") and name not in (drop or {})
    )
