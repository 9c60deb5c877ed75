"""`runwatch wrap` as cron runs it: `env -i HOME=… PATH=/usr/bin:/bin`, in $HOME, with
the settings only in ~/.config/runwatch/ (or named by RUNWATCH_CONFIG) and the Slack
webhook in a ${file:} secret. A failure reaches the loopback Slack exactly once, with
its exit code, duration, host and run link; without settings, wrap says so on stderr
and `runwatch serve` sends the alert later, once."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.alerting.conftest import RecordingServer, http_server
from tests.e2e.cli import free_port

__all__ = ["http_server"]  # the loopback Slack, a fixture of the alerting tests

BIN = Path(sys.executable).parent
FAILING = ("sh", "-c", "echo 'disk full' >&2; exit 3")
DEADLINE_SECONDS = 30.0


def user_settings(home: Path, text: str) -> Path:
    """``~/.config/runwatch/runwatch.yaml`` holding ``text``."""
    settings = home / ".config" / "runwatch" / "runwatch.yaml"
    settings.parent.mkdir(parents=True)
    settings.write_text(text)
    return settings


@pytest.fixture
def cron_home(tmp_path: Path) -> Path:
    """The $HOME cron runs the lines in."""
    home = tmp_path / "home"
    home.mkdir()
    return home


def cron_env(home: Path, **extra: str) -> list[str]:
    """`env -i` with what cron sets (and the venv's bin for `runwatch`)."""
    variables = {"HOME": str(home), "PATH": f"/usr/bin:/bin:{BIN}", **extra}
    return ["env", "-i", *(f"{k}={v}" for k, v in variables.items())]


def cron(home: Path, *words: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cron_env(home, **extra), "runwatch", *words],
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_settings(path: Path, slack: RecordingServer, secrets: Path) -> None:
    """Settings for a wrap-only host: a run_failed rule to Slack, the webhook in a file."""
    secrets.mkdir(parents=True, exist_ok=True)
    hook = secrets / "slack-url"
    hook.write_text(f"{slack.url}/services/T0/B0/cron\n")
    hook.chmod(0o600)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "dashboard: {url: 'https://runwatch.example'}\n"
        "alerting:\n"
        "  receivers:\n"
        f"    team: {{slack: {{webhook_url: '${{file:{hook}}}'}}}}\n"
        "  route: {receiver: team, group_wait: 0s, group_interval: 0s}\n"
        "  rules: [{alert: CronJobFailed, when: run_failed, severity: error}]\n"
    )


def message_text(slack: RecordingServer) -> str:
    """Everything the one Slack message says, as one string."""
    (request,) = slack.requests
    return json.dumps(request.json)


def assert_actionable(text: str, run_id: int) -> None:
    assert f"job backup failed (run {run_id})" in text
    assert "exit code 3" in text
    assert "*Duration*" in text
    assert f"*Host*\\n{socket.gethostname()}" in text
    assert f"https://runwatch.example/?run={run_id}|run page" in text
    assert "disk full" in text


def test_a_failure_under_cron_with_settings_in_dot_config_reaches_slack_once(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    home = tmp_path / "home"
    config = home / ".config" / "runwatch"
    write_settings(config / "runwatch.yaml", http_server, config)

    result = cron(home, "wrap", "--job", "backup", "--", *FAILING)

    assert result.returncode == 3
    assert result.stderr == "disk full\n"
    assert_actionable(message_text(http_server), 1)
    assert (home / ".runwatch" / "runwatch.db").exists()


def test_a_failure_under_cron_with_settings_named_by_runwatch_config_reaches_slack_once(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    home, etc = tmp_path / "home", tmp_path / "etc" / "runwatch"
    home.mkdir()
    write_settings(etc / "runwatch.yaml", http_server, etc)

    checked = cron(home, "check", RUNWATCH_CONFIG=str(etc / "runwatch.yaml"))
    result = cron(
        home, "wrap", "--job", "backup", "--", *FAILING, RUNWATCH_CONFIG=str(etc / "runwatch.yaml")
    )

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[0] == f"settings: {etc / 'runwatch.yaml'}"
    assert result.returncode == 3
    assert result.stderr == "disk full\n"
    assert_actionable(message_text(http_server), 1)


def wait_for(condition: Callable[[], bool], what: str, serve: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert serve.poll() is None, f"serve exited {serve.returncode} before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_without_settings_wrap_says_so_and_serve_alerts_once_later(
    tmp_path: Path, cron_home: Path, http_server: RecordingServer
) -> None:
    home = cron_home

    result = cron(home, "wrap", "--job", "backup", "--", *FAILING)

    assert result.returncode == 3
    output, warning = result.stderr.splitlines()
    assert output == "disk full"
    assert warning.startswith(
        "runwatch wrap: job backup failed (exit code 3) and no alert was sent: "
        "no settings file found (looked for ~/runwatch.yaml, ~/.config/runwatch/runwatch.yaml"
    )
    assert "set RUNWATCH_CONFIG, or pass --config FILE" in warning
    assert http_server.requests == []

    config = home / ".config" / "runwatch"
    write_settings(config / "runwatch.yaml", http_server, config)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  noop:\n    command: 'true'\n")
    port = free_port()
    serve = subprocess.Popen(
        [
            *cron_env(home),
            "runwatch",
            "serve",
            "--jobs",
            str(jobs),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: bool(http_server.requests), "the queued alert", serve)
        # a second delivery pass and a second wrap (a success) change nothing
        ok = cron(home, "wrap", "--job", "other", "--", "true")
        assert ok.returncode == 0
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=DEADLINE_SECONDS)

    assert_actionable(message_text(http_server), 1)


def test_a_receiver_secret_missing_from_crons_environment_is_named_and_the_run_still_recorded(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    user_settings(
        home,
        f"home: {tmp_path / 'state'}\n"
        "alerting:\n"
        "  receivers: {team: {slack: {webhook_url: '${SLACK_WEBHOOK_URL}'}}}\n"
        "  route: {receiver: team}\n"
        "  rules: [{alert: Failed, when: run_failed}]\n",
    )

    result = cron(home, "wrap", "--job", "backup", "--", *FAILING)

    assert result.returncode == 3
    output, warning = result.stderr.splitlines()
    assert output == "disk full"
    assert warning.startswith("runwatch wrap: job backup failed (exit code 3) and no alert was")
    assert "environment variable SLACK_WEBHOOK_URL is not set" in warning
    assert "${file:PATH} or env_file:" in warning
    assert (tmp_path / "state" / "runwatch.db").exists()


def test_check_accepts_settings_without_jobs_and_warns_when_nobody_would_alert(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    settings = user_settings(home, f"home: {tmp_path / 'state'}\n")
    (tmp_path / "elsewhere").mkdir()

    checked = cron(home, "check")
    nothing = cron(tmp_path / "elsewhere", "check")

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines() == [
        f"settings: {settings}",
        "ok: no jobs (settings for `runwatch wrap`)",
    ]
    assert checked.stderr.startswith(
        f"runwatch: warning: {settings} has no alerting rules and no `runwatch serve` is running"
    )
    assert nothing.stdout.startswith("settings: none found")
    assert "runwatch: warning: no settings file found" in nothing.stderr


def test_a_failure_no_one_could_alert_is_sent_once_by_the_next_wrap_that_can(
    tmp_path: Path, cron_home: Path, http_server: RecordingServer
) -> None:
    home = cron_home
    failed = cron(home, "wrap", "--job", "backup", "--", *FAILING)
    assert "no alert was sent" in failed.stderr
    config = home / ".config" / "runwatch"
    write_settings(config / "runwatch.yaml", http_server, config)

    first = cron(home, "wrap", "--job", "report", "--", "true")
    second = cron(home, "wrap", "--job", "report", "--", "true")

    assert (first.returncode, first.stderr, second.returncode, second.stderr) == (0, "", 0, "")
    assert_actionable(message_text(http_server), 1)


def test_wrap_reads_the_alert_engines_own_cursor() -> None:
    from alerting.state import CURSOR
    from runner.wrap.sink import ALERT_CURSOR

    assert ALERT_CURSOR == CURSOR
