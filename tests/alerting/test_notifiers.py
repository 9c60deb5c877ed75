"""The notifier contract for every kind: ``send`` returns a DeliveryResult and never
raises, whatever the receiver does; plus the webhook and log receivers' output."""

from __future__ import annotations

import importlib
import logging
import socket
import subprocess
import sys

import pytest

import alerting
from alerting.notification import DeliveryResult, Notification, NotifiedAlert, NotifiedStatus
from alerting.notifiers import create_notifier
from alerting.receivers import Receiver
from tests.alerting.conftest import T0, RecordingServer, config

ALERT = NotifiedAlert(
    "0123456789abcdef",
    NotifiedStatus.FIRING,
    {"alertname": "JobFailed", "severity": "error", "job": "nightly-etl", "run_id": "7"},
    {"summary": "nightly-etl failed"},
    T0,
    details={"error": "boom", "exit_code": 2},
)
NOTE = Notification("r", "g1", {"job": "nightly-etl"}, (ALERT,), T0)


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def receiver_of(kind: str, url: str) -> Receiver:
    bodies = {
        "slack": {"slack": {"webhook_url": f"{url}/hook"}},
        "slack-bot": {"slack": {"token": "xoxb-t", "channel": "#c", "api_url": f"{url}/api/"}},
        "pagerduty": {
            "pagerduty": {"routing_key": "k" * 32, "events_url": url.replace("http:", "https:")}
        },
        "msteams": {"msteams": {"webhook_url": f"{url}/webhookb2/x"}},
        "opsgenie": {"opsgenie": {"api_key": "k", "api_url": url}},
        "alertmanager": {"alertmanager": {"url": url}},
        "webhook": {"webhook": {"url": f"{url}/hook"}},
        "log": {"log": {}},
        "memory": {"memory": {}},
    }
    raw = {"receivers": {"r": {**bodies[kind], "timeout": "2s"}}}
    return config(raw).receivers["r"]


KINDS = [
    "slack",
    "slack-bot",
    "pagerduty",
    "msteams",
    "opsgenie",
    "alertmanager",
    "webhook",
    "log",
    "memory",
]


@pytest.mark.parametrize("kind", KINDS)
def test_every_notifier_reports_an_unreachable_receiver_as_a_result(kind: str) -> None:
    notifier = create_notifier(receiver_of(kind, f"http://127.0.0.1:{_dead_port()}"))
    try:
        result = notifier.send(NOTE)
    finally:
        notifier.shutdown()
    assert isinstance(result, DeliveryResult)
    assert result.ok is (kind in ("log", "memory"))
    if not result.ok:
        assert not result.permanent
        assert "127.0.0.1" not in (result.error or "")


@pytest.mark.parametrize("kind", ["slack", "msteams", "opsgenie", "alertmanager", "webhook"])
def test_every_http_notifier_retries_a_500_and_gives_up_on_a_400(
    kind: str, http_server: RecordingServer
) -> None:
    notifier = create_notifier(receiver_of(kind, http_server.url))
    http_server.reply(500, b"oops")
    http_server.reply(400, b"bad")
    first, second = notifier.send(NOTE), notifier.send(NOTE)
    assert (first.ok, first.permanent) == (False, False)
    assert (second.ok, second.permanent) == (False, True)
    assert notifier.send(NOTE).ok


def test_the_webhook_receives_the_notification_as_json(http_server: RecordingServer) -> None:
    notifier = create_notifier(receiver_of("webhook", http_server.url))
    assert notifier.send(NOTE).ok
    (request,) = http_server.requests
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "version": "1",
        "receiver": "r",
        "status": "firing",
        "title": "[FIRING:1] JobFailed (job=nightly-etl)",
        "group_key": "g1",
        "group_labels": {"job": "nightly-etl"},
        "repeat": False,
        "test": False,
        "alerts": [
            {
                "fingerprint": "0123456789abcdef",
                "status": "firing",
                "changed": True,
                "labels": {
                    "alertname": "JobFailed",
                    "severity": "error",
                    "job": "nightly-etl",
                    "run_id": "7",
                },
                "annotations": {"summary": "nightly-etl failed"},
                "starts_at": "2030-01-07T03:00:00+00:00",
                "ends_at": None,
                "details": {"error": "boom", "exit_code": 2},
                "facts": {
                    "headline": "nightly-etl failed",
                    "outcome": "exit code 2",
                    "error_tail": "boom",
                },
            }
        ],
    }


def test_the_log_receiver_logs_the_title_and_each_alert(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert create_notifier(receiver_of("log", "")).send(NOTE).ok
    assert caplog.messages == [
        "[FIRING:1] JobFailed (job=nightly-etl)",
        "  firing JobFailed: nightly-etl failed",
    ]


def test_the_public_api_lists_exactly_what_it_exports() -> None:
    # Names load on first use: resolve them all before listing the package's namespace.
    assert all(getattr(alerting, name) is not None for name in alerting.__all__)
    public = {name for name in vars(alerting) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(alerting, name)).__name__ == "module"}
    assert set(alerting.__all__) == public - modules - {"annotations"}
    assert sorted(alerting.__all__) == alerting.__all__


def test_importing_alerting_loads_none_of_its_modules() -> None:
    code = (
        "import sys, alerting; "
        "print(sorted(m for m in sys.modules if m.startswith(('alerting.', 'runner'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == str(["runner", "runner.lazy_names"])  # the lazy loader only


def test_the_replay_export_stays_the_function_when_its_module_is_imported() -> None:
    module = importlib.import_module("alerting.replay")
    from alerting import replay

    assert replay is module.replay
    assert alerting.replay is module.replay
