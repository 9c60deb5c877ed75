"""The apprise receiver through the real Apprise library, its ``json://`` schema pointed
at a loopback server: title and plain-text body, repeat and resolve, refusals retried,
a target down then back, and the URLs' credentials kept out of logs and the store."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from alerting.outbox import NotificationStatus
from runner.errors import DefinitionError
from runner.store.store import Store
from tests.alerting.conftest import EventLog, FixedClock, RecordingServer, config, serve
from tests.alerting.receiver_contract import Life, assert_secret_nowhere, dead_port, life

pytest.importorskip("apprise")

PASSWORD = "apprise-s3cret-pass"
TOKEN = "T0KEN0f0the0target"


def apprise(ports: list[int], store: Store, events: EventLog, clock: FixedClock) -> Life:
    urls = [f"json://bot:${{APPRISE_PASSWORD}}@127.0.0.1:{p}/hook/{TOKEN}" for p in ports]
    return life(store, events, clock, {"apprise": {"urls": urls}}, {"APPRISE_PASSWORD": PASSWORD})


def port_of(server: RecordingServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


@pytest.fixture
def target(
    http_server: RecordingServer, store: Store, events: EventLog, clock: FixedClock
) -> Iterator[Life]:
    found = apprise([port_of(http_server)], store, events, clock)
    yield found
    found.sender.close()


def test_firing_repeat_and_resolve_reach_the_target_as_title_and_plain_text(
    target: Life, http_server: RecordingServer
) -> None:
    run_id = target.fail()
    target.repeat()
    recovered_by = target.recover()
    firing, repeat, resolved = (r.json for r in http_server.requests)
    assert http_server.requests[0].path == f"/hook/{TOKEN}"
    assert firing["title"] == "[FIRING:1] JobFailed (job=nightly-etl)"
    assert firing["message"].splitlines()[:3] == [
        "nightly-etl failed at load (attempt 1)",
        "Severity: error",
        "Job: nightly-etl",
    ]
    assert f"Run: {run_id}" in firing["message"]
    assert "Runbook: https://wiki.example/runbooks/nightly-etl" in firing["message"]
    assert repeat["title"] == firing["title"]
    assert resolved["title"] == "[RESOLVED] JobFailed (job=nightly-etl)"
    assert resolved["message"].startswith(
        f"job nightly-etl recovered (run {recovered_by}, down 1h01m)"
    )
    assert target.statuses() == [NotificationStatus.SENT] * 3


@pytest.mark.parametrize("status", [429, 400, 503])
def test_a_refusal_is_retried_because_apprise_does_not_say_why(
    target: Life, http_server: RecordingServer, status: int
) -> None:
    http_server.reply(status, b"no")
    target.fail()
    assert target.statuses() == [NotificationStatus.PENDING]
    assert target.errors() == [
        "apprise receiver 'r': URL 1 of 1 (json://): not delivered (1 failed)"
    ]
    target.deliver_later(10)
    assert target.statuses() == [NotificationStatus.SENT]
    assert len(http_server.requests) == 2


def test_a_retry_goes_only_to_the_target_that_was_down_and_each_gets_it_once(
    http_server: RecordingServer, store: Store, events: EventLog, clock: FixedClock
) -> None:
    port = dead_port()
    found = apprise([port_of(http_server), port], store, events, clock)
    found.fail()
    assert found.errors() == [
        "apprise receiver 'r': URL 2 of 2 (json://): not delivered (1 failed)"
    ]
    back = serve(None, port)
    server = next(back)
    try:
        found.deliver_later()
        found.deliver_later()
        assert found.statuses() == [NotificationStatus.SENT]
        assert len(server.requests) == 1
        assert len(http_server.requests) == 1
    finally:
        back.close()
        found.sender.close()


def test_the_urls_credentials_are_never_in_logs_store_or_stderr(
    target: Life,
    http_server: RecordingServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    http_server.reply(500, f"bad token {TOKEN}".encode())
    target.fail()
    target.deliver_later(10)
    assert target.sender.send_test("r").ok
    assert "json://" in caplog.text  # Apprise logged its URLs, redacted
    for secret in (PASSWORD, TOKEN):
        assert_secret_nowhere(
            secret, target.store, caplog.text, capsys.readouterr().err, repr(target.sender.config)
        )


def test_a_url_apprise_cannot_use_is_permanent(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    found = life(store, events, clock, {"apprise": {"urls": ["nosuchschema://x/y"]}}, {})
    found.fail()
    found.sender.close()
    assert found.statuses() == [NotificationStatus.FAILED]
    assert found.errors() == [
        "apprise receiver 'r': URL 1 of 1 (nosuchschema://): Apprise cannot use this URL"
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"urls": []}, "apprise.urls: required: a list of Apprise URLs"),
        ({"urls": [f"discord {TOKEN}"]}, "apprise.urls[0]: expected an Apprise URL"),
        ({"urls": ["ntfy://${NTFY_TOKEN}@ntfy.sh/x"]}, "NTFY_TOKEN"),
        ({"url": ["ntfy://ntfy.sh/x"]}, "did you mean 'urls'?"),
    ],
)
def test_check_names_the_bad_key_without_showing_the_url(
    body: dict[str, object], message: str
) -> None:
    with pytest.raises(DefinitionError) as error:
        config({"receivers": {"r": {"apprise": body}}})
    assert message in str(error.value)
    assert TOKEN not in str(error.value)
