"""The email receiver against a real SMTP server on loopback (aiosmtpd): subject, text and
HTML parts, threading headers, STARTTLS with the test certificate, AUTH, 4xx retried and
5xx permanent, the server down then back, and the password kept secret."""

from __future__ import annotations

import email
import email.policy
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerting.outbox import NotificationStatus
from runner.errors import DefinitionError
from runner.store.store import Store
from tests.alerting.conftest import Certificate, EventLog, FixedClock, config, tls_context
from tests.alerting.receiver_contract import Life, assert_secret_nowhere, dead_port, life

PASSWORD = "s3cret-smtp-passw0rd"


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps every message, or answers queued replies to DATA."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    replies: deque[str] = field(default_factory=deque)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            return self.replies.popleft()
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"runwatch",
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def start(mailbox: Mailbox, port: int, certificate: Certificate | None = None) -> Controller:
    tls: dict[str, Any] = {}
    if certificate is not None:
        tls = {
            "tls_context": tls_context(certificate),
            "require_starttls": True,
            "authenticator": authenticate,
            "auth_require_tls": True,
        }
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    return controller


def receiver(port: int, **extra: object) -> dict[str, object]:
    return {
        "email": {
            "to": ["oncall@example.com", "Data Team <data@example.com>"],
            "from": "runwatch@example.org",
            "smarthost": f"127.0.0.1:{port}",
            "require_tls": False,
            **extra,
        }
    }


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def plain(mailbox: Mailbox, store: Store, events: EventLog, clock: FixedClock) -> Iterator[Life]:
    port = dead_port()
    controller = start(mailbox, port)
    found = life(store, events, clock, receiver(port), {})
    yield found
    found.sender.close()
    controller.stop()


def test_firing_repeat_and_resolve_are_one_thread_with_text_and_html_parts(
    plain: Life, mailbox: Mailbox
) -> None:
    run_id = plain.fail()
    plain.repeat()
    recovered_by = plain.recover()
    firing, repeat, resolved = mailbox.messages
    assert mailbox.recipients[0] == ["oncall@example.com", "data@example.com"]
    assert firing["Subject"] == "[FIRING:1] JobFailed (job=nightly-etl)"
    assert firing["From"] == "runwatch@example.org"
    assert firing["To"] == "oncall@example.com, Data Team <data@example.com>"
    root = firing["Message-ID"]
    assert root.startswith("<runwatch.")
    assert root.endswith("@example.org>")
    assert "In-Reply-To" not in firing
    for later in (repeat, resolved):
        assert later["In-Reply-To"] == root
        assert later["References"] == root
        assert later["Message-ID"] != root
    assert repeat["Message-ID"] != resolved["Message-ID"]
    assert resolved["Subject"] == "[RESOLVED] JobFailed (job=nightly-etl)"
    text = firing.get_body(("plain",))
    html = firing.get_body(("html",))
    assert text is not None
    assert html is not None
    body = text.get_content()
    assert body.splitlines()[:3] == [
        "nightly-etl failed at load (attempt 1)",
        "Severity: error",
        "Job: nightly-etl",
    ]
    assert f"Run: {run_id}" in body
    assert "Runbook: https://wiki.example/runbooks/nightly-etl" in body
    assert "Traceback: boom" in body
    markup = html.get_content()
    assert "<a href='https://wiki.example/runbooks/nightly-etl'>Runbook</a>" in markup
    assert "<pre>Traceback: boom</pre>" in markup
    resolved_text = resolved.get_body(("plain",))
    assert resolved_text is not None
    assert resolved_text.get_content().startswith(
        f"job nightly-etl recovered (run {recovered_by}, down 1h01m)"
    )
    assert plain.statuses() == [NotificationStatus.SENT] * 3


def test_a_4xx_reply_is_retried_and_a_5xx_is_permanent(plain: Life, mailbox: Mailbox) -> None:
    mailbox.replies.append("451 4.3.0 Mail server temporarily rejected message")
    plain.fail()
    assert plain.statuses() == [NotificationStatus.PENDING]
    assert plain.errors() == [
        "email receiver 'r': SMTP 451: 4.3.0 Mail server temporarily rejected message"
    ]
    plain.deliver_later(10)
    assert plain.statuses() == [NotificationStatus.SENT]
    assert len(mailbox.messages) == 1
    mailbox.replies.append("554 5.7.1 Message rejected as spam")
    plain.recover()
    assert sorted(plain.statuses()) == [NotificationStatus.FAILED, NotificationStatus.SENT]
    assert len(mailbox.messages) == 1


def test_the_smtp_server_down_then_back_gets_the_message_exactly_once(
    mailbox: Mailbox, store: Store, events: EventLog, clock: FixedClock
) -> None:
    port = dead_port()
    plain = life(store, events, clock, receiver(port), {})
    plain.fail()
    assert plain.errors() == ["email receiver 'r': cannot connect: ConnectionRefusedError"]
    controller = start(mailbox, port)
    try:
        plain.deliver_later()
        plain.deliver_later()
        assert plain.statuses() == [NotificationStatus.SENT]
        assert len(mailbox.messages) == 1
    finally:
        plain.sender.close()
        controller.stop()


@pytest.fixture
def secure(
    mailbox: Mailbox, store: Store, events: EventLog, clock: FixedClock, certificate: Certificate
) -> Iterator[tuple[Life, int]]:
    port = dead_port()
    controller = start(mailbox, port, certificate)
    found = life(
        store,
        events,
        clock,
        receiver(
            port,
            require_tls=True,
            tls_config={"ca_file": str(certificate.cert)},
            auth_username="runwatch",
            auth_password="${SMTP_PASSWORD}",
        ),
        {"SMTP_PASSWORD": PASSWORD},
    )
    yield found, port
    found.sender.close()
    controller.stop()


def test_starttls_with_the_test_certificate_then_auth(
    secure: tuple[Life, int], mailbox: Mailbox
) -> None:
    found, _ = secure
    found.fail()
    assert found.statuses() == [NotificationStatus.SENT]
    assert len(mailbox.messages) == 1
    assert found.sender.send_test("r").ok
    assert mailbox.messages[1]["Subject"] == "[TEST] [FIRING:1] RunwatchTest (all)"


def test_a_wrong_password_is_permanent_and_never_in_logs_store_or_stderr(
    mailbox: Mailbox,
    store: Store,
    events: EventLog,
    clock: FixedClock,
    certificate: Certificate,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    port = dead_port()
    controller = start(mailbox, port, certificate)
    wrong = PASSWORD + "-wrong"
    found = life(
        store,
        events,
        clock,
        receiver(
            port,
            require_tls=True,
            tls_config={"ca_file": str(certificate.cert)},
            auth_username="runwatch",
            auth_password="${SMTP_PASSWORD}",
        ),
        {"SMTP_PASSWORD": wrong},
    )
    try:
        found.fail()
    finally:
        found.sender.close()
        controller.stop()
    assert found.statuses() == [NotificationStatus.FAILED]
    (error,) = found.errors()
    assert error is not None
    assert error.startswith("email receiver 'r': SMTP 535")
    assert mailbox.messages == []
    assert_secret_nowhere(
        wrong, store, caplog.text, capsys.readouterr().err, repr(found.sender.config)
    )


def test_an_untrusted_certificate_is_retried_and_no_starttls_is_permanent(
    mailbox: Mailbox, store: Store, events: EventLog, clock: FixedClock, certificate: Certificate
) -> None:
    port = dead_port()
    controller = start(mailbox, port, certificate)
    untrusted = life(store, events, clock, receiver(port, require_tls=True), {})
    try:
        untrusted.fail()
    finally:
        untrusted.sender.close()
        controller.stop()
    assert untrusted.errors() == ["email receiver 'r': TLS: SSLCertVerificationError"]
    assert untrusted.statuses() == [NotificationStatus.PENDING]


def test_require_tls_against_a_server_without_starttls_is_permanent(
    mailbox: Mailbox, store: Store, events: EventLog, clock: FixedClock
) -> None:
    port = dead_port()
    controller = start(mailbox, port)
    found = life(store, events, clock, receiver(port, require_tls=True), {})
    try:
        found.fail()
    finally:
        found.sender.close()
        controller.stop()
    assert found.statuses() == [NotificationStatus.FAILED]
    assert found.errors() == [
        "email receiver 'r': the server does not offer STARTTLS (require_tls is true)"
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"to": "oncall"}, "email.to: 'oncall': expected an email address"),
        ({"from": "a b@example.com"}, "email.from: 'a b@example.com': expected an email address"),
        (
            {"smarthost": "smtp.example.com"},
            "email.smarthost: 'smtp.example.com': expected host:port",
        ),
        ({"auth_username": "u"}, "auth_username and auth_password go together"),
        (
            {"auth_username": "u", "auth_password": "p", "smarthost": "smtp.example.com:25"},
            "email.require_tls: false would send auth_password unencrypted",
        ),
        ({"smart_host": "x:25"}, "did you mean 'smarthost'?"),
        ({"tls_config": {"ca_file": "/nonexistent.pem"}}, "tls_config.ca_file: '/nonexistent.pem'"),
    ],
)
def test_check_names_the_bad_key(extra: dict[str, object], message: str) -> None:
    raw = receiver(25)
    raw["email"] = {**raw["email"], **extra}  # type: ignore[dict-item]
    with pytest.raises(DefinitionError) as error:
        config({"receivers": {"r": raw}})
    assert message in str(error.value)


def test_check_reports_a_missing_password_by_key() -> None:
    raw = receiver(587, require_tls=True, auth_username="u", auth_password="${SMTP_PASSWORD}")
    with pytest.raises(DefinitionError) as error:
        config({"receivers": {"r": raw}})
    assert "alerting.receivers.r.email.auth_password" in str(error.value)
    assert "SMTP_PASSWORD" in str(error.value)


def test_port_465_is_implicit_tls_with_auth(
    mailbox: Mailbox, store: Store, events: EventLog, clock: FixedClock, certificate: Certificate
) -> None:
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=465,
        ssl_context=tls_context(certificate),
        authenticator=authenticate,
        auth_require_tls=False,  # aiosmtpd counts only STARTTLS as TLS; this socket is TLS
    )
    try:
        controller.start()
    except OSError as exc:  # not root, or 465 taken on this machine
        pytest.skip(f"cannot listen on 127.0.0.1:465: {exc}")
    found = life(
        store,
        events,
        clock,
        receiver(
            465,
            tls_config={"ca_file": str(certificate.cert)},
            auth_username="runwatch",
            auth_password="${SMTP_PASSWORD}",
        ),
        {"SMTP_PASSWORD": PASSWORD},
    )
    try:
        found.fail()
    finally:
        found.sender.close()
        controller.stop()
    assert found.statuses() == [NotificationStatus.SENT]
    assert len(mailbox.messages) == 1
