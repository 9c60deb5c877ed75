"""The Redactor: known secrets and their recognisable parts are replaced; log records too."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli.redacted_logging import LogRedaction
from runner.config import load_settings, redactor_for
from runner.redaction import REDACTED, Redactor, environment_secrets
from runner.secret import Secret

WEBHOOK = "https://hooks.slack.test/services/T0ABCDEFG/B0HIJKLMN/abcdefSECRETxyz123"


def test_a_whole_secret_and_the_path_of_a_webhook_url_are_redacted() -> None:
    redactor = Redactor([Secret(WEBHOOK)])

    assert redactor.redact(f"posting to {WEBHOOK} failed") == f"posting to {REDACTED} failed"
    echoed = "404 no such hook: /services/T0ABCDEFG/B0HIJKLMN/abcdefSECRETxyz123"
    assert redactor.redact(echoed) == f"404 no such hook: {REDACTED}"
    assert "abcdefSECRETxyz123" not in redactor.redact("token=abcdefSECRETxyz123 rejected")


def test_a_token_in_a_url_query_and_a_database_password_are_redacted() -> None:
    redactor = Redactor(["https://hc.test/ping?key=ping-token-123456"])

    assert "ping-token-123456" not in redactor.redact("GET /ping?key=ping-token-123456: 500")
    assert "ping-token-123456" not in redactor.redact("bad key ping-token-123456")

    env = {"RUNWATCH_DB_URL": "postgresql://rw:p%40ss-word@db.test/runs", "PGPASSWORD": "pgpw"}
    from_env = Redactor(environment_secrets(env))
    assert from_env.redact("auth failed for p@ss-word and p%40ss-word") == (
        f"auth failed for {REDACTED} and {REDACTED}"
    )
    assert from_env.redact("PGPASSWORD=pgpw") == f"PGPASSWORD={REDACTED}"


def test_short_path_segments_and_hosts_are_left_alone() -> None:
    redactor = Redactor(["http://127.0.0.1:8080/hook"])

    assert redactor.redact("webhook receiver 'hook': HTTP 503") == (
        "webhook receiver 'hook': HTTP 503"
    )


def test_exporter_headers_contribute_their_values() -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc,x-api-key=key-987654"}
    redactor = Redactor(environment_secrets(env))

    assert "key-987654" not in redactor.redact("sent x-api-key: key-987654")


def test_the_settings_redactor_knows_interpolated_literal_and_database_secrets(
    tmp_path: Path,
) -> None:
    (tmp_path / "runwatch.yaml").write_text(
        "db_url: postgresql://rw:db-secret-pw@db/runs\n"
        "server: {token: literal-ping-token}\n"
        "alerting:\n"
        "  receivers:\n"
        "    team: {slack: {webhook_url: '${SLACK_URL}'}}\n"
        "    hook: {webhook: {url: 'https://hook.test/x/literal-hook-path', headers: "
        "{Authorization: 'Bearer header-secret'}}}\n"
    )
    env = {"HOME": str(tmp_path), "SLACK_URL": WEBHOOK}
    settings = load_settings(None, env=env, cwd=tmp_path)

    text = redactor_for(settings, env).redact(
        "db-secret-pw literal-ping-token abcdefSECRETxyz123 literal-hook-path header-secret"
    )

    assert text == " ".join([REDACTED] * 5)


@pytest.fixture
def redaction() -> Iterator[LogRedaction]:
    installed = LogRedaction(Redactor([WEBHOOK]))
    installed.install()
    try:
        yield installed
    finally:
        installed.uninstall()


def test_log_records_are_redacted_whatever_handler_formats_them(
    redaction: LogRedaction, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.redaction")
    with caplog.at_level(logging.INFO):
        logger.info("sending to %s", WEBHOOK)
        try:
            raise RuntimeError(f"refused: {WEBHOOK}")
        except RuntimeError:
            logger.exception("delivery failed")

    assert "abcdefSECRETxyz123" not in caplog.text
    assert caplog.text.count(REDACTED) >= 2
    assert "RuntimeError: refused:" in caplog.text


def test_the_slack_library_logs_nothing_below_info_even_when_verbose(
    redaction: LogRedaction, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("slack_sdk.webhook.client").debug("Sending a request - url: %s", WEBHOOK)

    assert caplog.records == []


def test_bytes_are_redacted_and_every_other_byte_is_kept() -> None:
    redactor = Redactor([WEBHOOK])
    data = b"\xff\xfe raw " + WEBHOOK.encode() + b" \xc3\xa9\n"

    assert redactor.redact_bytes(data) == b"\xff\xfe raw [redacted] \xc3\xa9\n"
