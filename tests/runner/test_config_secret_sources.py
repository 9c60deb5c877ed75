"""Secret sources for cron: ``${file:PATH}`` and ``env_file:`` in runwatch.yaml."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runner.config import load_settings
from runner.envfile import read_env_file
from runner.errors import DefinitionError
from runner.secret import Secret

HOME_ENV = {"HOME": "/home/tester"}
WEBHOOK = "https://hooks.slack.test/services/T0/B0/file-secret-part"


def _private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _settings_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    (tmp_path / "runwatch.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    with pytest.raises(DefinitionError) as caught:
        load_settings(None, env=env or HOME_ENV, cwd=tmp_path)
    return str(caught.value)


def _alerting(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Secret:
    (tmp_path / "runwatch.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    settings = load_settings(None, env=env or HOME_ENV, cwd=tmp_path)
    value: Secret = settings.alerting["receivers"]["team"]["slack"]["webhook_url"]
    return value


def _slack_from(secret_file: Path) -> str:
    reference = f"${{file:{secret_file}}}"
    return f"alerting:\n  receivers:\n    team: {{slack: {{webhook_url: '{reference}'}}}}\n"


def test_a_file_reference_reads_the_file_without_its_trailing_newline(tmp_path: Path) -> None:
    secret_file = _private(tmp_path / "slack-url", WEBHOOK + "\n")

    value = _alerting(
        tmp_path,
        _slack_from(secret_file),
    )

    assert isinstance(value, Secret)
    assert value.reveal() == WEBHOOK


def test_a_relative_file_reference_is_relative_to_the_settings_folder(tmp_path: Path) -> None:
    _private(tmp_path / "slack-url", WEBHOOK)
    text = "alerting:\n  receivers:\n    team: {slack: {webhook_url: '${file:slack-url}'}}\n"

    value = _alerting(tmp_path, text)

    assert value.reveal() == WEBHOOK


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_secret_file_readable_by_others_is_refused_naming_key_and_file(
    tmp_path: Path, mode: int
) -> None:
    secret_file = _private(tmp_path / "slack-url", WEBHOOK, mode)

    message = _settings_error(
        tmp_path,
        _slack_from(secret_file),
    )

    assert "alerting.receivers.team.slack.webhook_url" in message
    assert str(secret_file) in message
    assert "readable by group or others" in message
    assert "chmod 600" in message
    assert "file-secret-part" not in message


def test_a_missing_secret_file_is_named(tmp_path: Path) -> None:
    message = _settings_error(tmp_path, "server:\n  token: ${file:/nonexistent/ping-token}\n")

    assert "server.token" in message
    assert "/nonexistent/ping-token does not exist" in message


def test_an_env_file_feeds_interpolation(tmp_path: Path) -> None:
    env_file = _private(
        tmp_path / "runwatch.env",
        "# secrets for cron\n\n"
        f"export SLACK_WEBHOOK_URL='{WEBHOOK}'\n"
        'PD_KEY="quoted \\"key\\"" # a comment\n'
        "BARE=value with spaces # comment\n",
    )
    text = f"""
        env_file: {env_file}
        alerting:
          receivers:
            team: {{slack: {{webhook_url: "${{SLACK_WEBHOOK_URL}}"}}}}
            oncall: {{pagerduty: {{routing_key: "${{PD_KEY}}-${{BARE}}"}}}}
        """

    value = _alerting(tmp_path, text)
    settings = load_settings(None, env=HOME_ENV, cwd=tmp_path)

    assert value.reveal() == WEBHOOK
    assert settings.alerting["receivers"]["oncall"]["pagerduty"]["routing_key"].reveal() == (
        'quoted "key"-value with spaces'
    )
    assert settings.interpolated == {"SLACK_WEBHOOK_URL", "PD_KEY", "BARE"}


def test_the_process_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = _private(tmp_path / "runwatch.env", "SLACK_WEBHOOK_URL=from-file\n")
    text = f"""
        env_file: {env_file}
        alerting:
          receivers:
            team: {{slack: {{webhook_url: "${{SLACK_WEBHOOK_URL}}"}}}}
        """

    value = _alerting(tmp_path, text, {**HOME_ENV, "SLACK_WEBHOOK_URL": "from-env"})

    assert value.reveal() == "from-env"


def test_an_env_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    env_file = _private(tmp_path / "runwatch.env", "TOKEN=abc\n", 0o644)

    message = _settings_error(tmp_path, f"env_file: {env_file}\n")

    assert "key 'env_file'" in message
    assert str(env_file) in message
    assert "readable by group or others" in message


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("just words", "expected KEY=VALUE"),
        ("1BAD=x", "expected KEY=VALUE"),
        ("OPEN='never closed", "no closing '"),
        ('TRAIL="x" junk', "unexpected text after the closing"),
    ],
)
def test_a_bad_env_file_line_is_named_by_file_and_line(
    tmp_path: Path, line: str, problem: str
) -> None:
    env_file = _private(tmp_path / "runwatch.env", f"# first\nGOOD=1\n{line}\n")

    with pytest.raises(DefinitionError) as caught:
        read_env_file(env_file)

    assert f"{env_file}:3:" in str(caught.value)
    assert problem in str(caught.value)


def test_the_settings_remember_every_interpolated_secret(tmp_path: Path) -> None:
    token_file = _private(tmp_path / "token", "file-token-value\n")
    text = f"""
        server:
          token: ${{file:{token_file}}}
        alerting:
          receivers:
            team: {{slack: {{webhook_url: "https://hooks.test/${{HOOK_PATH}}"}}}}
        """
    (tmp_path / "runwatch.yaml").write_text(textwrap.dedent(text).lstrip("\n"))

    settings = load_settings(None, env={**HOME_ENV, "HOOK_PATH": "T1/B2/zzz"}, cwd=tmp_path)

    revealed = {s.reveal() for s in settings.secrets}
    assert {"file-token-value", "T1/B2/zzz", "https://hooks.test/T1/B2/zzz"} <= revealed
    assert settings.interpolated == {"HOOK_PATH"}
