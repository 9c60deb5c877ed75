"""Attacks through receivers: an endpoint that redirects runwatch elsewhere to collect
its credentials, and job data that would ping a whole Slack channel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerting.notification import Notification, NotifiedAlert, NotifiedStatus
from alerting.notifiers.slack import SlackNotifier
from alerting.notifiers.webhook import WebhookNotifier
from alerting.receivers import Receiver, SlackSettings, WebhookSettings
from runner.secret import Secret
from tests.alerting.conftest import (
    Certificate,
    Recorded,
    RecordingServer,
    make_certificate,
    serve,
    tls_context,
)

TOKEN = "Bearer s3cr3t-webhook-token"
API_KEY = "k3y-in-a-custom-header"
MENTION = "<!channel>"


@pytest.fixture
def origin() -> Iterator[RecordingServer]:
    """The receiver's configured endpoint, on loopback."""
    yield from serve(None)


@pytest.fixture
def other_origin() -> Iterator[RecordingServer]:
    """A second loopback server: another port, so another origin."""
    yield from serve(None)


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path)


@pytest.fixture
def tls_origin(certificate: Certificate) -> Iterator[RecordingServer]:
    """The receiver's configured endpoint over HTTPS."""
    yield from serve(tls_context(certificate))


def notification(**labels: str) -> Notification:
    alert = NotifiedAlert(
        fingerprint="0123456789abcdef",
        status=NotifiedStatus.FIRING,
        labels={"alertname": "JobFailed", "severity": "error", "job": "etl", **labels},
        annotations={"summary": f"etl failed {MENTION} & <https://evil.example|click>"},
        starts_at=datetime(2030, 1, 7, 3, tzinfo=UTC),
        details={"error": f"Traceback: {MENTION} <!here> <@U123> & done", "run_id": 7},
    )
    return Notification("hooks", "g", {"job": "etl"}, (alert,), alert.starts_at)


def webhook(url: str, ca_bundle: str | None = None) -> WebhookNotifier:
    settings = WebhookSettings(
        Secret(url),
        headers={"Authorization": Secret(TOKEN), "X-Api-Key": Secret(API_KEY)},
        ca_bundle=ca_bundle,
    )
    return WebhookNotifier(Receiver("hooks", "webhook", settings, timeout_seconds=5))


def credentials_in(request: Recorded) -> list[str]:
    return [v for v in request.headers.values() if TOKEN in v or API_KEY in v]


def test_a_redirect_to_another_origin_gets_no_credentials(
    origin: RecordingServer, other_origin: RecordingServer
) -> None:
    origin.reply(302, headers={"Location": f"{other_origin.url}/collect"})

    webhook(f"{origin.url}/hook").send(notification())

    (first,) = origin.requests
    assert first.headers["Authorization"] == TOKEN, "the configured origin gets them"
    assert [r.path for r in other_origin.requests] == ["/collect"], "the redirect was followed"
    assert credentials_in(other_origin.requests[0]) == []


def test_a_redirect_within_the_same_origin_keeps_the_credentials(
    origin: RecordingServer,
) -> None:
    origin.reply(302, headers={"Location": "/moved"})

    result = webhook(f"{origin.url}/hook").send(notification())

    assert result.ok, result.error
    moved = origin.on("/moved")
    assert len(moved) == 1
    assert moved[0].headers["Authorization"] == TOKEN


def test_a_redirect_from_https_to_http_is_refused(
    tls_origin: RecordingServer, other_origin: RecordingServer, certificate: Certificate
) -> None:
    tls_origin.reply(302, headers={"Location": f"{other_origin.url}/plain"})

    result = webhook(f"{tls_origin.url}/hook", str(certificate.cert)).send(notification())

    assert not result.ok
    assert result.permanent
    assert "https to http" in (result.error or "")
    assert other_origin.requests == [], "nothing was sent in the clear"
    assert "/hook" not in (result.error or ""), "the URL (which may hold a secret) is not shown"


def slack_api(request: Recorded) -> tuple[int, dict[str, str], bytes]:
    return (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"ok": True, "channel": "C0DATA", "ts": "1700000000.000100"}).encode(),
    )


def mrkdwn_texts(body: dict[str, Any]) -> list[str]:
    """Every text Slack renders as mrkdwn: the top-level text and mrkdwn text objects."""
    found = [body["text"]] if "text" in body else []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body.get("blocks", []))
    return found


def assert_escaped(texts: list[str]) -> None:
    joined = "\n".join(texts)
    assert "&lt;!channel&gt;" in joined, joined
    for raw in ("<!channel>", "<!here>", "<@U123>", "<https://evil.example", "& "):
        assert raw not in joined, joined


@pytest.mark.parametrize("kind", ["webhook", "bot"])
def test_slack_messages_carry_mentions_from_job_data_as_text(
    origin: RecordingServer, kind: str
) -> None:
    origin.default = slack_api
    if kind == "webhook":
        settings = SlackSettings(webhook_url=Secret(f"{origin.url}/services/T/B/X"))
    else:
        settings = SlackSettings(
            token=Secret("xoxb-1"), channel="#alerts", api_url=f"{origin.url}/api/"
        )
    notifier = SlackNotifier(Receiver("slack", "slack", settings, timeout_seconds=5))
    first = notification(owner=f"data-eng {MENTION}", task=f"load {MENTION}")

    assert notifier.send(first).ok
    if kind == "bot":  # the update in place and the thread reply
        thread = {"channel": "C0DATA", "ts": "1700000000.000100"}
        again = Notification(
            "slack", "g", first.group_labels, first.alerts, first.created_at, thread=thread
        )
        assert notifier.send(again).ok

    bodies = [r.json for r in origin.requests]
    assert len(bodies) == (1 if kind == "webhook" else 3)
    for body in bodies:
        assert_escaped(mrkdwn_texts(body))
    assert "&amp; done" in json.dumps(bodies[0]), "the error tail is escaped too"
