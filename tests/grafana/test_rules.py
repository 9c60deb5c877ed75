"""The shipped Prometheus config and rules pass promtool, and the rules behave as documented."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.prometheus import require_binary
from tests.grafana.contract import series_names
from tests.grafana.dashboard_json import GRAFANA, ROOT

PROMETHEUS_DIR = GRAFANA / "prometheus"
RULES = PROMETHEUS_DIR / "rules.yml"
RULES_TEST = Path(__file__).with_name("rules_test.yml")
RUNWATCH_NAME = re.compile(r"\brunwatch_\w+")
SEVERITIES = {"critical", "error", "warning", "info"}
ALERTS = {
    "RunwatchJobFailed",
    "RunwatchJobStale",
    "RunwatchSchedulerDown",
    "RunwatchNotificationsFailing",
}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _unit_tests() -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load(RULES_TEST.read_text())["tests"]
    return tests


def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", str(RULES.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_example_prometheus_config() -> None:
    result = _promtool(
        "check", "config", str((PROMETHEUS_DIR / "prometheus.yml").relative_to(ROOT))
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass_in_promtool() -> None:
    result = _promtool("test", "rules", str(RULES_TEST.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_documented_alerts_exist_with_severity_summary_and_description() -> None:
    alerts = {rule["alert"]: rule for rule in _rules() if "alert" in rule}
    assert set(alerts) == ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name


def test_every_alert_is_unit_tested_both_firing_and_quiet() -> None:
    checks = [check for test in _unit_tests() for check in test.get("alert_rule_test", [])]
    for alert in ALERTS:
        outcomes = [bool(check["exp_alerts"]) for check in checks if check["alertname"] == alert]
        assert True in outcomes, f"{alert} is never shown firing"
        assert False in outcomes, f"{alert} is never shown staying quiet"


def test_every_recording_rule_is_unit_tested_by_value() -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    checked = {
        check["expr"] for test in _unit_tests() for check in test.get("promql_expr_test", [])
    }
    assert recorded <= checked, sorted(recorded - checked)


def test_recording_rules_follow_the_level_metric_operation_convention() -> None:
    for rule in _rules():
        if "record" in rule:
            level, metric, operation = rule["record"].split(":")
            assert level, rule["record"]
            assert operation, rule["record"]
            assert metric.startswith("runwatch_"), rule["record"]


def test_rules_read_only_metrics_of_the_contract() -> None:
    known = series_names()
    recorded = re.compile(r"\b\w+:\w+:\w+\b")
    for rule in _rules():
        used = set(RUNWATCH_NAME.findall(recorded.sub("", rule["expr"])))
        assert used <= known, (rule.get("alert") or rule.get("record"), sorted(used - known))


def test_the_example_config_scrapes_runwatch_serve_with_its_own_job_label() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "runwatch"  # RunwatchSchedulerDown selects up{job="runwatch"}
    assert job["honor_labels"] is True
    assert job["static_configs"] == [{"targets": ["127.0.0.1:9464"]}]
    assert config["rule_files"] == ["rules.yml"]
    text = (PROMETHEUS_DIR / "prometheus.yml").read_text()
    assert "#   honor_labels: true" in text, "the Pushgateway example must honor labels too"
