"""The PagerDuty receiver with the real ``pagerduty`` client over TLS to a loopback
Events API whose certificate the tests make."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from alerting import AlertEngine, Sender
from alerting.notification import NotifiedAlert, NotifiedStatus
from alerting.notifiers.pagerduty import trigger_payload
from alerting.outbox import list_rows
from runner.store.notifications import NotificationStatus
from runner.store.store import Store
from tests.alerting.conftest import (
    T0,
    Certificate,
    EventLog,
    FixedClock,
    Recorded,
    RecordingServer,
    config,
)
from tests.storesql import sql

KEY = "R0UT1NGKEY0000000000000000000042"


def events_api(request: Recorded) -> tuple[int, dict[str, str], bytes]:
    body = {
        "status": "success",
        "message": "Event processed",
        "dedup_key": request.json["dedup_key"],
    }
    return 202, {"Content-Type": "application/json"}, json.dumps(body).encode()


def pd_config(server: RecordingServer, certificate: Certificate) -> dict[str, Any]:
    return {
        "receivers": {
            "oncall": {
                "pagerduty": {
                    "routing_key": "${PD_ROUTING_KEY}",
                    "events_url": server.url,
                    "ca_bundle": str(certificate.cert),
                }
            },
        },
        "route": {"receiver": "oncall", "group_wait": "0s", "group_interval": "0s"},
        "rules": [
            {
                "alert": "JobFailing",
                "when": "consecutive_failures",
                "threshold": 3,
                "severity": "critical",
            }
        ],
    }


@pytest.fixture
def pagerduty(
    https_server: RecordingServer, certificate: Certificate, store: Store, clock: FixedClock
) -> Iterator[tuple[AlertEngine, Sender, RecordingServer]]:
    https_server.default = events_api
    cfg = config(pd_config(https_server, certificate), {"PD_ROUTING_KEY": KEY})
    sender = Sender(store, cfg, clock=clock)
    yield AlertEngine(store, cfg, clock=clock), sender, https_server
    sender.close()


def test_three_failures_trigger_one_incident_and_recovery_resolves_it_with_the_same_key(
    pagerduty: tuple[AlertEngine, Sender, RecordingServer], events: EventLog, clock: FixedClock
) -> None:
    engine, sender, server = pagerduty
    run_ids = []
    for _ in range(4):
        run_ids.append(events.run(ok=False))
        engine.evaluate(clock.advance(60))
        sender.deliver_due()
    (trigger,) = server.requests
    assert trigger.path == "/v2/enqueue"
    dedup_key = trigger.json["dedup_key"]
    assert trigger.json == {
        "event_action": "trigger",
        "routing_key": KEY,
        "dedup_key": dedup_key,
        "payload": {
            "summary": "job nightly-etl failed 3 times in a row",
            "source": "runwatch",
            "severity": "critical",
            "component": "nightly-etl",
            "group": "data-eng",
            "class": "JobFailing",
            "timestamp": "2030-01-07T03:02:00+00:00",
            "custom_details": {
                "alertname": "JobFailing",
                "job": "nightly-etl",
                "tags": "etl,warehouse",
                "run_id": run_ids[2],
                "task": "load",
                "attempt": 1,
                "exit_code": 3,
                "duration": "1.0s",
                "error_tail": "Traceback: boom",
                "headline": "job nightly-etl failed 3 times in a row",
                "outcome": "exit code 3",
                "owner": "data-eng",
            },
        },
    }
    events.run(ok=True)
    engine.evaluate(clock.advance(60))
    sender.deliver_due()
    resolve = server.requests[-1]
    assert len(server.requests) == 2
    assert resolve.json == {"event_action": "resolve", "routing_key": KEY, "dedup_key": dedup_key}


@pytest.mark.parametrize("severity", ["critical", "error", "warning", "info"])
def test_severity_maps_to_pagerdutys_own(severity: str) -> None:
    alert = NotifiedAlert(
        "abc", NotifiedStatus.FIRING, {"alertname": "X", "severity": severity, "job": "j"}, {}, T0
    )
    assert trigger_payload(alert, "runwatch")["severity"] == severity


def test_a_flapping_alert_is_marked_in_the_summary_and_details() -> None:
    alert = NotifiedAlert(
        "abc",
        NotifiedStatus.FLAPPING,
        {"alertname": "X", "severity": "error", "job": "j"},
        {"summary": "j failed"},
        T0,
    )
    payload = trigger_payload(alert, "runwatch")
    assert payload["summary"] == "[FLAPPING] j failed"
    assert payload["custom_details"]["flapping"] is True


def test_pagerduty_down_is_retried_and_the_routing_key_never_reaches_errors_logs_or_store(
    pagerduty: tuple[AlertEngine, Sender, RecordingServer],
    events: EventLog,
    clock: FixedClock,
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine, sender, server = pagerduty
    caplog.set_level(logging.DEBUG)
    server.reply(500, {"status": "error", "message": f"bad key {KEY}"})
    for _ in range(3):
        events.run(ok=False)
    engine.evaluate()
    assert sender.deliver_due().retried == 1
    (row,) = list_rows(store)
    assert row.last_error is not None
    assert "HTTP 500" in row.last_error
    assert KEY not in row.last_error
    clock.advance(600)
    assert sender.deliver_due().sent == 1
    assert [r.status for r in list_rows(store)] == [NotificationStatus.SENT]
    dump = json.dumps(
        [
            sql(store).rows(f"SELECT * FROM {t}")
            for t in ("notifications", "alerts", "alert_groups", "alert_job_facts")
        ]
    )
    assert KEY not in dump
    assert KEY not in caplog.text
    assert KEY not in repr(sender.config)


def test_a_pagerduty_400_is_permanent(
    pagerduty: tuple[AlertEngine, Sender, RecordingServer], events: EventLog, store: Store
) -> None:
    engine, sender, server = pagerduty
    server.reply(400, {"status": "invalid event", "message": "Event object is invalid"})
    for _ in range(3):
        events.run(ok=False)
    engine.evaluate()
    assert sender.deliver_due().failed == 1


@pytest.mark.parametrize("status", [409, 425])
def test_a_pagerduty_4xx_the_webhook_rule_retries_is_retried_here_too(
    pagerduty: tuple[AlertEngine, Sender, RecordingServer], events: EventLog, status: int
) -> None:
    engine, sender, server = pagerduty
    server.reply(status, {"status": "error", "message": "try again"})
    for _ in range(3):
        events.run(ok=False)
    engine.evaluate()
    assert sender.deliver_due().retried == 1


def test_a_certificate_the_client_does_not_trust_is_a_retried_failure(
    https_server: RecordingServer,
    store: Store,
    events: EventLog,
    clock: FixedClock,
    certificate: Certificate,
) -> None:
    raw = pd_config(https_server, certificate)
    del raw["receivers"]["oncall"]["pagerduty"]["ca_bundle"]
    cfg = config(raw, {"PD_ROUTING_KEY": KEY})
    for _ in range(3):
        events.run(ok=False)
    AlertEngine(store, cfg, clock=clock).evaluate()
    sender = Sender(store, cfg, clock=clock)
    try:
        assert sender.deliver_due().retried == 1
    finally:
        sender.close()
    (row,) = list_rows(store)
    assert row.last_error == "pagerduty receiver 'oncall': cannot connect: ConnectError"
    assert https_server.requests == []
