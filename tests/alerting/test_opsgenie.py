"""The Opsgenie receiver against a loopback Alerts API v2: create with the fingerprint as
alias, repeat, close on resolve, 429/4xx/5xx, the API down then back, the key kept secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from alerting.outbox import NotificationStatus
from runner.errors import DefinitionError
from runner.store.store import Store
from tests.alerting.conftest import EventLog, FixedClock, Recorded, RecordingServer, config, serve
from tests.alerting.receiver_contract import Life, assert_secret_nowhere, dead_port, life

KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"


def alerts_api(request: Recorded) -> tuple[int, dict[str, str], bytes]:
    body = {"result": "Request will be processed", "took": 0.1, "requestId": "r-1"}
    return 202, {"Content-Type": "application/json"}, json.dumps(body).encode()


def receiver(url: str, **extra: object) -> dict[str, object]:
    return {"opsgenie": {"api_key": "${OPSGENIE_API_KEY}", "api_url": url, **extra}}


def opsgenie(url: str, store: Store, events: EventLog, clock: FixedClock, **extra: object) -> Life:
    return life(store, events, clock, receiver(url, **extra), {"OPSGENIE_API_KEY": KEY})


@pytest.fixture
def genie(
    http_server: RecordingServer, store: Store, events: EventLog, clock: FixedClock
) -> Iterator[Life]:
    http_server.default = alerts_api
    found = opsgenie(
        http_server.url,
        store,
        events,
        clock,
        responders=[{"type": "team", "name": "data-eng"}, {"type": "user", "username": "ana@x.io"}],
        tags=["runwatch"],
    )
    yield found
    found.sender.close()


def test_create_with_the_fingerprint_as_alias_repeat_dedups_and_resolve_closes(
    genie: Life, http_server: RecordingServer
) -> None:
    run_id = genie.fail()
    (create,) = http_server.requests
    assert create.path == "/v2/alerts"
    assert create.headers["Authorization"] == f"GenieKey {KEY}"
    body = create.json
    alias = body["alias"]
    assert len(alias) == 16
    description = body.pop("description")
    assert body == {
        "message": "nightly-etl failed at load (attempt 1)",
        "alias": alias,
        "responders": [
            {"type": "team", "name": "data-eng"},
            {"type": "user", "username": "ana@x.io"},
        ],
        "tags": ["runwatch", "etl", "warehouse"],
        "details": {
            "alertname": "JobFailed",
            "severity": "error",
            "outcome": "exit code 3",
            "attempt": "1",
            "owner": "data-eng",
            "error_tail": "Traceback: boom",
            "runbook_url": "https://wiki.example/runbooks/nightly-etl",
        },
        "entity": "nightly-etl",
        "source": "runwatch",
        "priority": "P2",
    }
    assert description.splitlines()[:4] == [
        "nightly-etl failed at load (attempt 1)",
        "Severity: error",
        "Job: nightly-etl",
        "Task: load",
    ]
    assert f"Run: {run_id}" in description
    assert "Runbook: https://wiki.example/runbooks/nightly-etl" in description
    genie.repeat()
    repeat = http_server.requests[1]
    assert (repeat.path, repeat.json["alias"]) == ("/v2/alerts", alias)
    genie.recover()
    close = http_server.requests[2]
    assert close.path == f"/v2/alerts/{alias}/close?identifierType=alias"
    assert close.json == {"source": "runwatch", "note": close.json["note"]}
    assert close.json["note"].startswith("job nightly-etl recovered")
    assert len(http_server.requests) == 3
    assert genie.statuses() == [NotificationStatus.SENT] * 3


def test_a_configured_priority_overrides_the_severity_and_the_eu_host_is_taken(
    http_server: RecordingServer, store: Store, events: EventLog, clock: FixedClock
) -> None:
    http_server.default = alerts_api
    genie = opsgenie(f"{http_server.url}/eu", store, events, clock, priority="P1")
    genie.fail()
    (create,) = http_server.requests
    assert (create.path, create.json["priority"]) == ("/eu/v2/alerts", "P1")
    eu = config(
        {"receivers": {"r": receiver("https://api.eu.opsgenie.com")}}, {"OPSGENIE_API_KEY": KEY}
    )
    assert eu.receivers["r"].settings.api_url == "https://api.eu.opsgenie.com/"  # type: ignore[union-attr]


def test_429_and_5xx_are_retried_and_a_422_is_permanent(
    genie: Life, http_server: RecordingServer
) -> None:
    http_server.reply(429, {"message": "Too many requests"}, headers={"Retry-After": "15"})
    http_server.reply(503, b"")
    genie.fail()
    genie.deliver_later(15)
    assert genie.statuses() == [NotificationStatus.PENDING]
    assert genie.errors() == ["opsgenie receiver 'r': HTTP 503"]
    genie.deliver_later(20)
    assert genie.statuses() == [NotificationStatus.SENT]
    http_server.reply(422, {"message": "Message can not be empty."})
    genie.events.run(ok=True)
    genie.engine.evaluate(genie.clock.advance(60))
    genie.sender.deliver_due()
    assert sorted(genie.statuses()) == [NotificationStatus.FAILED, NotificationStatus.SENT]


def test_opsgenie_down_then_back_gets_the_alert_exactly_once(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    port = dead_port()
    genie = opsgenie(f"http://127.0.0.1:{port}", store, events, clock)
    genie.fail()
    assert genie.errors() == ["opsgenie receiver 'r': cannot connect: ConnectionRefusedError"]
    back = serve(None, port)
    server = next(back)
    server.default = alerts_api
    try:
        genie.deliver_later()
        genie.deliver_later()
        assert genie.statuses() == [NotificationStatus.SENT]
        assert len(server.requests) == 1
    finally:
        back.close()
        genie.sender.close()


def test_the_api_key_is_never_in_logs_store_or_errors(
    genie: Life,
    http_server: RecordingServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    http_server.reply(500, f"key {KEY} is busy".encode())
    http_server.reply(401, f"Key {KEY} is invalid".encode())
    genie.fail()
    genie.deliver_later()
    assert genie.errors() == ["opsgenie receiver 'r': HTTP 401: Key [redacted] is invalid"]
    assert_secret_nowhere(
        KEY, genie.store, caplog.text, capsys.readouterr().err, repr(genie.sender.config)
    )


def test_notify_test_creates_then_closes_a_marked_alert(
    genie: Life, http_server: RecordingServer
) -> None:
    assert genie.sender.send_test("r").ok
    create, close = http_server.requests
    assert create.json["message"].startswith("[TEST] ")
    assert close.path == "/v2/alerts/runwatch-test-r/close?identifierType=alias"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"priority": "high"},
            "alerting.receivers.r.opsgenie.priority: 'high': expected one of P1",
        ),
        ({"responders": [{"type": "squad", "name": "x"}]}, "responders[0].type: 'squad'"),
        ({"responders": [{"type": "team"}]}, "responders[0]: expected exactly one of id, name"),
        ({"tag": ["x"]}, "did you mean 'tags'?"),
        ({"api_url": "http://api.opsgenie.com"}, "the API key goes only over https"),
    ],
)
def test_check_names_the_bad_key(extra: dict[str, object], message: str) -> None:
    with pytest.raises(DefinitionError) as error:
        config(
            {"receivers": {"r": receiver("https://api.opsgenie.com", **extra)}},
            {"OPSGENIE_API_KEY": KEY},
        )
    assert message in str(error.value)


def test_check_reports_a_missing_api_key_by_key() -> None:
    with pytest.raises(DefinitionError) as error:
        config({"receivers": {"r": receiver("https://api.opsgenie.com")}})
    assert "alerting.receivers.r.opsgenie.api_key" in str(error.value)
    assert "OPSGENIE_API_KEY" in str(error.value)
