"""Every error the alerting config can report names the file, the key path and the
problem; the issue's example parses; secrets stay hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerting.config import load_alerting, parse_alerting
from alerting.receivers import PagerDutySettings, SlackSettings
from alerting.rules import RuleKind, Severity
from runner.config import load_settings
from runner.errors import DefinitionError

R: dict[str, Any] = {
    "receivers": {"team": {"log": {}}, "oncall": {"memory": {}}},
    "route": {"receiver": "team"},
}


def w(**keys: Any) -> dict[str, Any]:
    return {**R, **keys}


KIND_LIST = (
    "slack, pagerduty, msteams, opsgenie, email, apprise, alertmanager, webhook, log, memory"
)

CASES = [
    ("not_mapping", [1, 2], "alerting: expected a mapping, got a list"),
    (
        "unknown_top",
        w(recievers={}),
        (
            "alerting.recievers: unknown key (did you mean 'receivers'? "
            "expected one of: receivers, route, inhibit_rules, "
            "rules, maintenance, flap_threshold, flap_window, trace_url, evaluate_in_run, "
            "time_intervals, mute_time_intervals)"
        ),
    ),
    (
        "receiver_no_kind",
        {"receivers": {"team": {}}},
        (f"alerting.receivers.team: expected exactly one receiver kind ({KIND_LIST}), got none"),
    ),
    (
        "receiver_two_kinds",
        {"receivers": {"team": {"log": {}, "memory": {}}}},
        (
            "alerting.receivers.team: expected exactly one receiver kind "
            f"({KIND_LIST}), got log, memory"
        ),
    ),
    (
        "receiver_bad_name",
        {"receivers": {"team a": {"log": {}}}},
        "alerting.receivers.team a: receiver names may use letters, digits, - and _",
    ),
    (
        "slack_neither",
        {"receivers": {"s": {"slack": {}}}},
        "alerting.receivers.s.slack: expected either webhook_url, or token with channel",
    ),
    (
        "slack_token_no_channel",
        {"receivers": {"s": {"slack": {"token": "x"}}}},
        (
            "alerting.receivers.s.slack.channel: required with token (e.g. '#data-alerts' or a "
            "channel id)"
        ),
    ),
    (
        "slack_webhook_with_channel",
        {"receivers": {"s": {"slack": {"webhook_url": "https://h/x", "channel": "#a"}}}},
        (
            "alerting.receivers.s.slack.channel: not used with webhook_url (the webhook picks "
            "the channel)"
        ),
    ),
    (
        "slack_unset_var",
        {"receivers": {"s": {"slack": {"webhook_url": "${SLACK_WEBHOOK_URL}"}}}},
        (
            "alerting.receivers.s.slack.webhook_url: environment variable SLACK_WEBHOOK_URL "
            "is not set"
        ),
    ),
    (
        "pd_no_key",
        {"receivers": {"p": {"pagerduty": {}}}},
        "alerting.receivers.p.pagerduty.routing_key: required (the integration's routing key)",
    ),
    (
        "pd_http",
        {
            "receivers": {
                "p": {"pagerduty": {"routing_key": "k" * 32, "events_url": "http://127.0.0.1:1"}}
            }
        },
        (
            "alerting.receivers.p.pagerduty.events_url: 'http://127.0.0.1:1': PagerDuty's client "
            "accepts https URLs only"
        ),
    ),
    (
        "pd_ca_missing",
        {
            "receivers": {
                "p": {"pagerduty": {"routing_key": "k" * 32, "ca_bundle": "/nonexistent/ca.pem"}}
            }
        },
        "alerting.receivers.p.pagerduty.ca_bundle: '/nonexistent/ca.pem': no such file",
    ),
    (
        "am_no_url",
        {"receivers": {"a": {"alertmanager": {}}}},
        "alerting.receivers.a.alertmanager.url: required (e.g. http://alertmanager:9093)",
    ),
    (
        "am_bad_url",
        {"receivers": {"a": {"alertmanager": {"url": "alertmanager:9093"}}}},
        (
            "alerting.receivers.a.alertmanager.url: 'alertmanager:9093': expected an http:// or "
            "https:// URL"
        ),
    ),
    (
        "webhook_bad_url",
        {"receivers": {"h": {"webhook": {"url": "ftp://x"}}}},
        (
            "alerting.receivers.h.webhook.url: expected an http:// or https:// URL with a host "
            "(the value is not shown)"
        ),
    ),
    (
        "log_level",
        {"receivers": {"l": {"log": {"level": "loud"}}}},
        "alerting.receivers.l.log.level: 'loud': expected debug, info, warning or error",
    ),
    (
        "max_attempts",
        {"receivers": {"l": {"log": {}, "max_attempts": 0}}},
        "alerting.receivers.l.max_attempts: expected a whole number >= 1, got 0",
    ),
    (
        "bad_backoff",
        {"receivers": {"l": {"log": {}, "backoff": "soon"}}},
        (
            "alerting.receivers.l.backoff: expected a duration such as 30s, 5m, 2h or 1h30m "
            "(units ms s m h d w), got 'soon'"
        ),
    ),
    (
        "fallback_unknown",
        {"receivers": {"l": {"log": {}, "fallback": "nobody"}}},
        "alerting.receivers.l.fallback: unknown receiver 'nobody' (known: l)",
    ),
    (
        "fallback_cycle",
        {
            "receivers": {"a": {"log": {}, "fallback": "b"}, "b": {"log": {}, "fallback": "a"}},
            "route": {"receiver": "a"},
        },
        "alerting.receivers.b.fallback: fallbacks form a cycle: a -> b -> a",
    ),
    (
        "route_unknown_receiver",
        w(route={"receiver": "ml-team"}),
        "alerting.route.receiver: unknown receiver 'ml-team' (known: oncall, team)",
    ),
    (
        "child_unknown_receiver",
        w(
            route={
                "receiver": "team",
                "routes": [{"matchers": ["owner =~ ml-.*"], "receiver": "ml-team"}],
            }
        ),
        "alerting.route.routes[0].receiver: unknown receiver 'ml-team' (known: oncall, team)",
    ),
    (
        "route_no_receiver",
        {"receivers": R["receivers"], "route": {}},
        "alerting.route.receiver: required when more than one receiver is configured",
    ),
    (
        "root_matchers",
        w(route={"receiver": "team", "matchers": ["a=b"]}),
        "alerting.route.matchers: not allowed on the root route (it takes every alert)",
    ),
    (
        "bad_matcher",
        w(
            route={
                "receiver": "team",
                "routes": [{"matchers": ["severity critical"], "receiver": "oncall"}],
            }
        ),
        (
            "alerting.route.routes[0].matchers[0]: bad matcher 'severity critical': "
            "expected label=value, label!=value, label=~regex or label!~regex"
        ),
    ),
    (
        "bad_regex",
        w(
            route={
                "receiver": "team",
                "routes": [{"matchers": ["owner =~ ml-(["], "receiver": "oncall"}],
            }
        ),
        (
            "alerting.route.routes[0].matchers[0]: bad matcher 'owner =~ ml-([': invalid RE2 "
            "regular expression 'ml-([': missing ]: ["
        ),
    ),
    (
        "bad_duration",
        w(route={"receiver": "team", "group_wait": "30 seconds"}),
        (
            "alerting.route.group_wait: expected a duration such as 30s, 5m, 2h or 1h30m (units "
            "ms s m h d w), got '30 seconds'"
        ),
    ),
    (
        "bad_group_by",
        w(route={"receiver": "team", "group_by": ["job name"]}),
        "alerting.route.group_by[0]: 'job name' is not a label name (letters, digits and _)",
    ),
    (
        "continue_not_bool",
        w(route={"receiver": "team", "routes": [{"receiver": "oncall", "continue": "yes"}]}),
        "alerting.route.routes[0].continue: expected true or false, got 'yes'",
    ),
    (
        "unknown_route_key",
        w(route={"receiver": "team", "group_wiat": "30s"}),
        (
            "alerting.route.group_wiat: unknown key (did you mean 'group_wait'? "
            "expected one of: receiver, match, "
            "match_re, matchers, group_by, group_wait, group_interval, repeat_interval, "
            "continue, routes, mute_time_intervals, active_time_intervals)"
        ),
    ),
    (
        "repeat_zero",
        w(route={"receiver": "team", "repeat_interval": "0s"}),
        "alerting.route.repeat_interval: must be more than 0s",
    ),
    (
        "rule_no_alert",
        w(rules=[{"when": "run_failed"}]),
        "alerting.rules[0].alert: required (the alert's name, e.g. JobFailed)",
    ),
    (
        "rule_bad_name",
        w(rules=[{"alert": "Job Failed", "when": "run_failed"}]),
        (
            "alerting.rules[0].alert: 'Job Failed': expected a name of letters, digits and _ "
            "(e.g. JobFailed)"
        ),
    ),
    (
        "rule_no_when",
        w(rules=[{"alert": "A"}]),
        (
            "alerting.rules[0].when: required (one of: run_failed, task_failed, "
            "consecutive_failures, duration_exceeded, deadline_missed, run_missed, run_overdue, "
            "stale, retries_exhausted, dataset_stale)"
        ),
    ),
    (
        "rule_bad_when",
        w(rules=[{"alert": "A", "when": "job_failed"}]),
        (
            "alerting.rules[0].when: 'job_failed': expected one of: run_failed, task_failed, "
            "consecutive_failures, duration_exceeded, deadline_missed, run_missed, run_overdue, "
            "stale, retries_exhausted, dataset_stale"
        ),
    ),
    (
        "rule_bad_severity",
        w(rules=[{"alert": "A", "when": "run_failed", "severity": "high"}]),
        "alerting.rules[0].severity: 'high': expected critical, error, warning or info",
    ),
    (
        "rule_missing_threshold",
        w(rules=[{"alert": "A", "when": "duration_exceeded"}]),
        "alerting.rules[0].threshold: required by duration_exceeded (a duration)",
    ),
    (
        "rule_missing_count",
        w(rules=[{"alert": "A", "when": "consecutive_failures"}]),
        "alerting.rules[0].threshold: required by consecutive_failures (a count, e.g. 3)",
    ),
    (
        "rule_bad_count",
        w(rules=[{"alert": "A", "when": "consecutive_failures", "threshold": "3x"}]),
        "alerting.rules[0].threshold: expected a whole number >= 1, got '3x'",
    ),
    (
        "rule_missing_for",
        w(rules=[{"alert": "A", "when": "stale"}]),
        "alerting.rules[0].for: required by stale (a duration)",
    ),
    (
        "rule_missing_deadline",
        w(rules=[{"alert": "A", "when": "deadline_missed"}]),
        "alerting.rules[0].deadline: required by deadline_missed (a duration)",
    ),
    (
        "rule_param_wrong_kind",
        w(rules=[{"alert": "A", "when": "run_failed", "for": "1h"}]),
        "alerting.rules[0].for: not used by run_failed (only by stale, dataset_stale)",
    ),
    (
        "rule_bad_threshold",
        w(rules=[{"alert": "A", "when": "duration_exceeded", "threshold": "45 min"}]),
        (
            "alerting.rules[0].threshold: expected a duration such as 30s, 5m, 2h or 1h30m "
            "(units ms s m h d w), got '45 min'"
        ),
    ),
    (
        "rule_zero_for",
        w(rules=[{"alert": "A", "when": "stale", "for": "0s"}]),
        "alerting.rules[0].for: must be more than 0s",
    ),
    (
        "rule_dup",
        w(rules=[{"alert": "A", "when": "run_failed"}, {"alert": "A", "when": "task_failed"}]),
        "alerting.rules[1].alert: duplicate alert name 'A' (also rules[0])",
    ),
    (
        "rule_bad_matcher",
        w(rules=[{"alert": "A", "when": "run_failed", "matchers": ["tags ~= x"]}]),
        (
            "alerting.rules[0].matchers[0]: bad matcher 'tags ~= x': expected label=value, "
            "label!=value, label=~regex or label!~regex"
        ),
    ),
    (
        "rule_reserved_label",
        w(rules=[{"alert": "A", "when": "run_failed", "labels": {"job": "x"}}]),
        "alerting.rules[0].labels.job: is set by runwatch and cannot be overridden",
    ),
    (
        "rule_bad_annotation",
        w(rules=[{"alert": "A", "when": "run_failed", "annotations": {"summary": ["x"]}}]),
        "alerting.rules[0].annotations.summary: expected a template string, got ['x']",
    ),
    (
        "rule_unknown_key",
        w(rules=[{"alert": "A", "when": "run_failed", "severty": "critical"}]),
        (
            "alerting.rules[0].severty: unknown key (did you mean 'severity'? "
            "expected one of: alert, when, severity, "
            "matchers, labels, annotations, runbook, threshold, for, deadline)"
        ),
    ),
    (
        "inhibit_no_source",
        w(inhibit_rules=[{"target_matchers": ["a=b"]}]),
        "alerting.inhibit_rules[0].source_matchers: required (a non-empty list of matchers)",
    ),
    (
        "inhibit_bad_equal",
        w(
            inhibit_rules=[
                {"source_matchers": ["a=b"], "target_matchers": ["c=d"], "equal": ["run id"]}
            ]
        ),
        "alerting.inhibit_rules[0].equal[0]: 'run id' is not a label name (letters, digits and _)",
    ),
    (
        "maint_bad_cron",
        w(maintenance=[{"schedule": "61 * * * *", "duration": "1h"}]),
        "alerting.maintenance[0].schedule: '61 * * * *' is not a cron expression",
    ),
    (
        "maint_bad_tz",
        w(maintenance=[{"schedule": "0 2 * * 0", "duration": "1h", "timezone": "Mars/Base"}]),
        "alerting.maintenance[0].timezone: 'Mars/Base' is not an IANA time zone",
    ),
    (
        "maint_no_duration",
        w(maintenance=[{"schedule": "0 2 * * 0"}]),
        "alerting.maintenance[0].duration: required",
    ),
    (
        "flap_threshold",
        w(flap_threshold=0),
        "alerting.flap_threshold: expected a whole number >= 1, got 0",
    ),
    (
        "flap_window",
        w(flap_window="an hour"),
        (
            "alerting.flap_window: expected a duration such as 30s, 5m, 2h or 1h30m (units ms s "
            "m h d w), got 'an hour'"
        ),
    ),
    (
        "evaluate_in_run",
        w(evaluate_in_run="sometimes"),
        "alerting.evaluate_in_run: 'sometimes': expected auto, always or never",
    ),
]


@pytest.mark.parametrize(("raw", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_config_error_names_the_file_key_and_problem(raw: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as error:
        parse_alerting(raw, env={})
    assert str(error.value) == f"runwatch.yaml: {message}"


ISSUE_EXAMPLE = """
alerting:
  receivers:
    oncall:
      pagerduty: {routing_key: "${PD_ROUTING_KEY}"}
    data-team:
      slack: {webhook_url: "${SLACK_WEBHOOK_URL}"}
    ml-team:
      slack: {token: "${SLACK_BOT_TOKEN}", channel: "#ml-alerts"}
  route:
    receiver: data-team
    group_by: [job]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
    routes:
      - matchers: ["severity = critical"]
        receiver: oncall
        continue: true
      - matchers: ["owner =~ ml-.*"]
        receiver: ml-team
  inhibit_rules:
    - source_matchers: ["alertname = JobFailed"]
      target_matchers: ["alertname = TaskFailed"]
      equal: [job, run_id]
  rules:
    - alert: JobFailed
      when: run_failed
      severity: critical
      matchers: ["tags =~ .*warehouse.*"]
      annotations:
        summary: "{job} failed at {task} (attempt {attempt})"
    - alert: SlowJob
      when: duration_exceeded
      threshold: 45m
      severity: warning
    - alert: NoSuccess
      when: stale
      for: 26h
      severity: critical
"""
ENV = {
    "PD_ROUTING_KEY": "pd-routing-key-0123456789abcdef",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.test/services/T/B/secretpart",
    "SLACK_BOT_TOKEN": "xoxb-bot-token-secret",
}


def test_the_issues_example_loads_from_runwatch_yaml_with_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    (tmp_path / "runwatch.yaml").write_text(ISSUE_EXAMPLE)
    settings = load_settings(None, env={**ENV, "HOME": str(tmp_path)}, cwd=tmp_path)
    config = load_alerting(settings)
    assert sorted(config.receivers) == ["data-team", "ml-team", "oncall"]
    pd = config.receivers["oncall"].settings
    assert isinstance(pd, PagerDutySettings)
    assert pd.routing_key.reveal() == ENV["PD_ROUTING_KEY"]
    slack = config.receivers["ml-team"].settings
    assert isinstance(slack, SlackSettings)
    assert slack.channel == "#ml-alerts"
    assert [r.id for r in config.route.walk()] == ["root", "root.0", "root.1"]
    critical, ml = config.route.routes
    assert (critical.receiver, critical.continue_, critical.group_wait_seconds) == (
        "oncall",
        True,
        30,
    )
    assert ml.repeat_interval_seconds == 4 * 3600
    assert [(r.alert, r.kind, r.severity) for r in config.rules] == [
        ("JobFailed", RuleKind.RUN_FAILED, Severity.CRITICAL),
        ("SlowJob", RuleKind.DURATION_EXCEEDED, Severity.WARNING),
        ("NoSuccess", RuleKind.STALE, Severity.CRITICAL),
    ]
    assert config.rules[1].threshold_seconds == 45 * 60
    assert config.rules[2].for_seconds == 26 * 3600
    assert config.inhibit_rules[0].equal == ("job", "run_id")
    assert config.source == str(tmp_path / "runwatch.yaml")
    text = repr(config)
    assert all(secret not in text for secret in ENV.values())


def test_an_unset_variable_fails_check_naming_it_and_never_a_value(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text(ISSUE_EXAMPLE)
    env = {k: v for k, v in ENV.items() if k != "PD_ROUTING_KEY"}
    with pytest.raises(DefinitionError) as error:
        load_alerting(load_settings(None, env={**env, "HOME": str(tmp_path)}, cwd=tmp_path))
    assert "PD_ROUTING_KEY" in str(error.value)
    assert "alerting.receivers.oncall.pagerduty.routing_key" in str(error.value)
    assert all(secret not in str(error.value) for secret in env.values())


def test_errors_name_the_config_file_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text("alerting:\n  route: {receiver: nobody}\n")
    settings = load_settings(None, env={"HOME": str(tmp_path)}, cwd=tmp_path)
    with pytest.raises(
        DefinitionError,
        match=r"runwatch.yaml: alerting.route.receiver: "
        r"unknown receiver 'nobody' \(known: log\)",
    ):
        load_alerting(settings)


def test_without_an_alerting_section_alerts_go_to_the_log_receiver() -> None:
    config = parse_alerting(None)
    assert list(config.receivers) == ["log"]
    assert config.route.receiver == "log"
    assert config.route.group_by == ("job",)
    assert (config.flap.threshold, config.flap.window_seconds) == (3, 3600)
