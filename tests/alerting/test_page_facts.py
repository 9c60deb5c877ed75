"""Every receiver's page is actionable: exit code, duration against the usual, host,
attempt of attempts, owner, error tail, and links to the run's dashboard page, its trace
and the runbook; the resolved notice says "recovered" with the run and the time down.
Real slack-sdk and pagerduty clients against the loopback stand-ins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from alerting import AlertEngine, Sender
from alerting.config import AlertingConfig, parse_alerting
from alerting.notification import Notification, NotifiedAlert, NotifiedStatus
from alerting.notifiers.alertmanager import alertmanager_alerts
from alerting.notifiers.webhook import webhook_body
from runner.model import Job, Task
from runner.store.lean_connection import connect
from runner.store.store import Store
from runner.wrap.recorder import record
from runner.wrap.report import JobSpec
from tests.alerting.conftest import T0, Certificate, FixedClock, RecordingServer
from tests.alerting.test_pagerduty import events_api
from tests.runner.wrap.conftest import finished_report

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPEC = JobSpec("backup", owner="ops-team")


def alerting_config(
    slack: RecordingServer, pd: RecordingServer, cert: Certificate
) -> AlertingConfig:
    raw: dict[str, Any] = {
        "receivers": {
            "chat": {"slack": {"webhook_url": "${SLACK_URL}"}},
            "oncall": {
                "pagerduty": {
                    "routing_key": "${PD_KEY}",
                    "events_url": pd.url,
                    "ca_bundle": str(cert.cert),
                }
            },
        },
        "route": {
            "receiver": "chat",
            "group_wait": "0s",
            "group_interval": "0s",
            "routes": [
                {"receiver": "chat", "matchers": ['job="backup"'], "continue": True},
                {"receiver": "oncall", "matchers": ['job="backup"']},
            ],
        },
        "rules": [
            {
                "alert": "BackupFailed",
                "when": "run_failed",
                "severity": "critical",
                "runbook": "https://wiki.example/runbooks/{job}",
            }
        ],
        "trace_url": "https://tempo.example/trace/{trace_id}",
    }
    env = {"SLACK_URL": f"{slack.url}/services/T/B/X", "PD_KEY": "R" * 32}
    return parse_alerting(raw, env=env, dashboard_url="https://runwatch.example")


@pytest.fixture
def receivers(
    store: Store,
    http_server: RecordingServer,
    https_server: RecordingServer,
    certificate: Certificate,
    clock: FixedClock,
) -> Iterator[tuple[AlertEngine, Sender]]:
    https_server.default = events_api
    cfg = alerting_config(http_server, https_server, certificate)
    sender = Sender(store, cfg, clock=clock)
    yield AlertEngine(store, cfg, clock=clock), sender
    sender.close()


def record_runs(db_url: str, *exit_codes: tuple[int, ...], start: float) -> list[int]:
    """Wrapped runs of ``backup`` on host db-7, one per tuple of attempt exit codes."""
    db = connect(db_url, timeout=5)
    ids = []
    try:
        for index, codes in enumerate(exit_codes):
            report = finished_report(at=start + 600 * index, exit_codes=codes, spec=SPEC)
            report.supervisor = "db-7:4242:99"
            report.trace_id = TRACE_ID
            run_id = record(db, report)
            assert run_id is not None
            ids.append(run_id)
    finally:
        db.close()
    return ids


def test_slack_and_pagerduty_pages_carry_every_fact_and_the_links(
    receivers: tuple[AlertEngine, Sender],
    store: Store,
    db_url: str,
    clock: FixedClock,
    http_server: RecordingServer,
    https_server: RecordingServer,
) -> None:
    engine, sender = receivers
    start = T0.timestamp()
    *_, failed = record_runs(db_url, (0,), (0,), (0,), (3, 3), start=start)
    engine.evaluate(clock.advance(3000))
    sender.deliver_due()

    (slack,) = http_server.requests
    section, error, links = slack.json["blocks"][2:5]
    assert section["text"]["text"] == f":red_circle: *job backup failed (run {failed})*"
    assert [f["text"] for f in section["fields"]] == [
        "*Severity*\ncritical",
        "*Job*\nbackup",
        f"*Run*\n{failed}",
        "*Outcome*\nexit code 3",
        "*Duration*\n3.0s (usual 1.5s)",
        "*Host*\ndb-7",
        "*Attempt*\n2 of 2",
        "*Owner*\nops-team",
        "*Status*\nfiring",
    ]
    assert error["text"]["text"] == "```boom 2```"
    assert links["elements"][0]["text"].startswith(
        f"<https://runwatch.example/?run={failed}|run page>"
        f" · <https://tempo.example/trace/{TRACE_ID}|trace>"
        " · <https://wiki.example/runbooks/backup|runbook>"
    )
    (trigger,) = https_server.requests
    assert trigger.json["payload"]["summary"] == f"job backup failed (run {failed})"
    assert trigger.json["links"] == [
        {"href": f"https://runwatch.example/?run={failed}", "text": "Run"},
        {"href": f"https://tempo.example/trace/{TRACE_ID}", "text": "Trace"},
        {"href": "https://wiki.example/runbooks/backup", "text": "Runbook"},
    ]
    details = trigger.json["payload"]["custom_details"]
    assert {k: details[k] for k in ("outcome", "host", "attempt", "attempts", "owner")} == {
        "outcome": "exit code 3",
        "host": "db-7",
        "attempt": 2,
        "attempts": 2,
        "owner": "ops-team",
    }
    assert (details["duration_seconds"], details["usual_seconds"]) == (3.0, 1.5)
    assert details["error_tail"] == "boom 2"

    # the failed run ended at start + 1803; this one succeeds 10 minutes after that
    (recovered,) = record_runs(db_url, (0,), start=start + 1803 + 600 - 1.5)
    engine.evaluate(clock.advance(60))
    sender.deliver_due()

    resolved = http_server.requests[-1].json["blocks"][2]["text"]["text"]
    assert resolved == (
        f":large_green_circle: *job backup recovered (run {recovered}, down 10m00s)*"
    )
    assert https_server.requests[-1].json["event_action"] == "resolve"


def firing_and_resolved() -> Notification:
    facts = {
        "run_id": "9",
        "exit_code": 3,
        "attempt": 2,
        "attempts": 3,
        "duration_seconds": 75.0,
        "usual_seconds": 30.0,
        "host": "db-7",
        "error": "disk full",
        "run_url": "https://runwatch.example/?run=9",
        "trace_url": "https://tempo.example/trace/abc",
    }
    firing = NotifiedAlert(
        "f1",
        NotifiedStatus.FIRING,
        {"alertname": "BackupFailed", "job": "backup", "owner": "ops"},
        {"summary": "job backup failed (run 9)", "runbook_url": "https://wiki.example/b"},
        T0,
        details=facts,
    )
    resolved = NotifiedAlert(
        "f2",
        NotifiedStatus.RESOLVED,
        {"alertname": "Other", "job": "etl"},
        {"summary": "job etl failed (run 4)"},
        T0,
        ends_at=T0.replace(hour=T0.hour + 2),
        details={"recovered_by_run": 12},
    )
    return Notification("hook", "k", {}, (firing, resolved), T0)


def test_the_webhook_and_alertmanager_carry_the_same_facts() -> None:
    notification = firing_and_resolved()

    facts = [a["facts"] for a in webhook_body(notification)["alerts"]]
    posted = alertmanager_alerts(notification, T0 - T0, T0)

    assert facts[0] == {
        "headline": "job backup failed (run 9)",
        "outcome": "exit code 3",
        "duration_seconds": 75.0,
        "usual_seconds": 30.0,
        "host": "db-7",
        "attempt": 2,
        "attempts": 3,
        "owner": "ops",
        "error_tail": "disk full",
        "run_url": "https://runwatch.example/?run=9",
        "trace_url": "https://tempo.example/trace/abc",
        "runbook_url": "https://wiki.example/b",
    }
    assert facts[1] == {
        "headline": "job etl recovered (run 12, down 2h00m)",
        "recovered_by_run": "12",
        "down_seconds": 7200.0,
    }
    annotations = posted[0]["annotations"]
    assert {k: annotations[k] for k in ("outcome", "host", "attempt", "run_url")} == {
        "outcome": "exit code 3",
        "host": "db-7",
        "attempt": "2",
        "run_url": "https://runwatch.example/?run=9",
    }
    assert annotations["runbook_url"] == "https://wiki.example/b"
    assert posted[1]["annotations"]["summary"] == "job etl recovered (run 12, down 2h00m)"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"url": "runwatch.example"}, "dashboard.url: expected an http:// or https:// URL"),
        ({"url": "https://r.example/?x=1"}, "dashboard.url: expected a base URL without"),
        ({"link": "https://r.example"}, "dashboard.link: unknown key"),
    ],
)
def test_a_bad_dashboard_url_is_refused_naming_the_key(raw: dict[str, str], problem: str) -> None:
    from alerting.config import load_alerting
    from runner.errors import DefinitionError

    class Settings:
        config_path = "runwatch.yaml"
        alerting: dict[str, Any] = {}
        dashboard = raw

    with pytest.raises(DefinitionError, match=f"runwatch.yaml: {problem}"):
        load_alerting(Settings())


def test_a_rule_runbook_must_be_a_web_link() -> None:
    from runner.errors import DefinitionError

    rule = {"alert": "A", "when": "run_failed", "runbook": "see the wiki"}
    with pytest.raises(DefinitionError, match=r"alerting.rules\[0\].runbook: expected an http"):
        parse_alerting({"rules": [rule]}, env={})


def test_a_jobs_own_runbook_is_linked_in_place_of_the_rules(
    receivers: tuple[AlertEngine, Sender],
    store: Store,
    db_url: str,
    clock: FixedClock,
    http_server: RecordingServer,
) -> None:
    engine, sender = receivers
    own = "https://wiki.example/backup-restore"
    store.sync_jobs([Job(name="backup", tasks={"t": Task("t", command="true")}, runbook=own)], T0)
    record_runs(db_url, (3,), start=T0.timestamp())
    engine.evaluate(clock.advance(3000))
    sender.deliver_due()

    (slack,) = http_server.requests
    links = slack.json["blocks"][4]["elements"][0]["text"]
    assert f"<{own}|runbook>" in links
    assert "runbooks/backup" not in links
