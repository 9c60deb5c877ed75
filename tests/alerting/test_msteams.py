"""The Microsoft Teams receiver against a loopback webhook: the Adaptive Card's facts and
links, repeat and resolve, 429/4xx/5xx, a webhook down then back, and its URL kept secret."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from alerting.notification import Notification, NotifiedAlert, NotifiedStatus
from alerting.notifiers.msteams import adaptive_card
from alerting.outbox import NotificationStatus
from runner.errors import DefinitionError
from runner.store.store import Store
from tests.alerting.conftest import T0, EventLog, FixedClock, RecordingServer, config, serve
from tests.alerting.receiver_contract import Life, assert_secret_nowhere, dead_port, life

TOKEN = "IncomingWebhook/5ecret0token0f0the0channel"
RECEIVER = {"msteams": {"webhook_url": "${TEAMS_WEBHOOK_URL}"}}


def teams(server_url: str, store: Store, events: EventLog, clock: FixedClock) -> Life:
    env = {"TEAMS_WEBHOOK_URL": f"{server_url}/webhookb2/{TOKEN}"}
    return life(store, events, clock, RECEIVER, env)


@pytest.fixture
def team(
    http_server: RecordingServer, store: Store, events: EventLog, clock: FixedClock
) -> Iterator[Life]:
    found = teams(http_server.url, store, events, clock)
    yield found
    found.sender.close()


def card(request_json: dict[str, Any]) -> dict[str, Any]:
    (attachment,) = request_json["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachment["content"]
    return content


def test_a_failure_posts_a_card_with_the_slack_messages_facts_and_links_then_repeat_and_resolve(
    team: Life, http_server: RecordingServer
) -> None:
    run_id = team.fail()
    (firing,) = http_server.requests
    assert firing.path == f"/webhookb2/{TOKEN}"
    assert firing.json["type"] == "message"
    assert firing.json["summary"] == "[FIRING:1] JobFailed (job=nightly-etl)"
    body = card(firing.json)["body"]
    fingerprint = body[-1]["text"].removeprefix("fingerprint ")
    assert body == [
        {
            "type": "TextBlock",
            "text": "\\[FIRING:1\\] JobFailed (job=nightly-etl)",
            "wrap": True,
            "weight": "Bolder",
            "size": "Medium",
        },
        {
            "type": "TextBlock",
            "text": "\N{LARGE RED CIRCLE} nightly-etl failed at load (attempt 1)",
            "wrap": True,
            "weight": "Bolder",
            "color": "Attention",
            "separator": True,
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Severity", "value": "error"},
                {"title": "Job", "value": "nightly-etl"},
                {"title": "Task", "value": "load"},
                {"title": "Run", "value": str(run_id)},
                {"title": "Outcome", "value": "exit code 3"},
                {"title": "Attempt", "value": "1"},
                {"title": "Owner", "value": "data-eng"},
                {"title": "Status", "value": "firing"},
            ],
        },
        {
            "type": "TextBlock",
            "text": "Traceback: boom",
            "wrap": True,
            "fontType": "Monospace",
            "markdown": False,
        },
        {
            "type": "ActionSet",
            "actions": [
                {
                    "type": "Action.OpenUrl",
                    "title": "Runbook",
                    "url": "https://wiki.example/runbooks/nightly-etl",
                }
            ],
        },
        {
            "type": "TextBlock",
            "text": f"fingerprint {fingerprint}",
            "wrap": True,
            "isSubtle": True,
            "size": "Small",
            "markdown": False,
        },
    ]
    team.repeat()
    assert len(http_server.requests) == 2
    assert http_server.requests[1].json["summary"] == "[FIRING:1] JobFailed (job=nightly-etl)"
    recovered_by = team.recover()
    assert len(http_server.requests) == 3
    resolved = http_server.requests[2].json
    assert resolved["summary"] == "[RESOLVED] JobFailed (job=nightly-etl)"
    assert card(resolved)["body"][1]["text"] == (
        f"\N{LARGE GREEN CIRCLE} job nightly-etl recovered (run {recovered_by}, down 1h01m)"
    )
    assert card(resolved)["body"][1]["color"] == "Good"
    assert team.statuses() == [NotificationStatus.SENT] * 3


def test_job_data_cannot_inject_markdown_links_into_the_card() -> None:
    alert = NotifiedAlert(
        "f1",
        NotifiedStatus.FIRING,
        {"alertname": "X", "severity": "error", "job": "j"},
        {"summary": "[click me](https://evil.example) **now**"},
        T0,
    )
    body = adaptive_card(Notification("r", "g", {}, (alert,), T0))["body"]
    assert body[1]["text"].endswith("\\[click me\\](https://evil.example) \\*\\*now\\*\\*")


def test_429_is_retried_after_its_retry_after_and_a_500_with_backoff(
    team: Life, http_server: RecordingServer
) -> None:
    http_server.reply(429, b"Too many requests", headers={"Retry-After": "30"})
    http_server.reply(502, b"bad gateway")
    team.fail()
    assert team.statuses() == [NotificationStatus.PENDING]
    (row_error,) = team.errors()
    assert row_error == "msteams receiver 'r': HTTP 429: Too many requests"
    team.deliver_later(30)
    assert team.errors() == ["msteams receiver 'r': HTTP 502: bad gateway"]
    team.deliver_later(20)
    assert team.statuses() == [NotificationStatus.SENT]
    assert len(http_server.requests) == 3


def test_a_4xx_is_permanent(team: Life, http_server: RecordingServer) -> None:
    http_server.reply(400, b"Bad payload received by generic incoming webhook.")
    team.fail()
    assert team.statuses() == [NotificationStatus.FAILED]
    assert len(http_server.requests) == 1


def test_teams_down_then_back_gets_the_card_exactly_once(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    port = dead_port()
    team = teams(f"http://127.0.0.1:{port}", store, events, clock)
    team.fail()
    team.deliver_later()
    assert team.errors() == ["msteams receiver 'r': cannot connect: ConnectionRefusedError"]
    back = serve(None, port)
    server = next(back)
    try:
        team.deliver_later()
        team.deliver_later()
        assert team.statuses() == [NotificationStatus.SENT]
        assert len(server.requests) == 1
    finally:
        back.close()
        team.sender.close()


def test_the_webhook_url_is_never_in_logs_store_or_errors(
    team: Life,
    http_server: RecordingServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    http_server.reply(500, f"no webhook {TOKEN}".encode())
    http_server.reply(404, f"no webhook {TOKEN}".encode())
    team.fail()
    team.deliver_later()
    assert team.statuses() == [NotificationStatus.FAILED]
    assert team.errors() == ["msteams receiver 'r': HTTP 404: no webhook [redacted]/[redacted]"]
    assert_secret_nowhere(
        TOKEN, team.store, caplog.text, capsys.readouterr().err, repr(team.sender.config)
    )


def test_check_reports_a_missing_url_variable_by_key_and_a_bad_url_without_showing_it() -> None:
    with pytest.raises(DefinitionError) as missing:
        config({"receivers": {"r": RECEIVER}})
    assert "alerting.receivers.r.msteams.webhook_url" in str(missing.value)
    assert "TEAMS_WEBHOOK_URL" in str(missing.value)
    with pytest.raises(DefinitionError) as bad:
        config({"receivers": {"r": {"msteams": {"webhook_url": "outlook/" + TOKEN}}}})
    assert str(bad.value).endswith(
        "expected an http:// or https:// URL with a host (the value is not shown)"
    )
    assert TOKEN not in str(bad.value)
    with pytest.raises(DefinitionError, match="did you mean 'webhook_url'"):
        config({"receivers": {"r": {"msteams": {"webhook": "https://x.example/"}}}})


def test_notify_test_posts_a_marked_test_card(team: Life, http_server: RecordingServer) -> None:
    assert team.sender.send_test("r").ok
    (request,) = http_server.requests
    assert request.json["summary"] == "[TEST] [FIRING:1] RunwatchTest (all)"
