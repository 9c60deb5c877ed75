"""``dashboard.url`` through the CLI: a failed `runwatch run` pages Slack and a webhook
with a link to the run's dashboard page and `runwatch show` prints it; without the key
neither carries a link; a bad URL is exit 2 naming ``dashboard.url``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.alerting.conftest import RecordingServer, http_server
from tests.e2e.cli import clean_env, run_cli

__all__ = ["http_server"]  # the loopback Slack and webhook, a fixture of the alerting tests

DASHBOARD = "https://runwatch.example/ops"


def write_settings(tmp_path: Path, receivers: RecordingServer, dashboard: str | None) -> None:
    """A failing job ``etl``, a run_failed rule to Slack and to a webhook, and maybe
    ``dashboard.url``."""
    (tmp_path / "runwatch.yaml").write_text(
        (f"dashboard: {{url: '{dashboard}'}}\n" if dashboard else "")
        + "jobs:\n  etl:\n    command: 'exit 3'\n"
        "alerting:\n"
        "  receivers:\n"
        f"    chat: {{slack: {{webhook_url: '{receivers.url}/services/T/B/X'}}}}\n"
        f"    hook: {{webhook: {{url: '{receivers.url}/hook'}}}}\n"
        "  route:\n"
        "    receiver: chat\n"
        "    group_wait: 0s\n"
        "    group_interval: 0s\n"
        "    routes:\n"
        "      - {receiver: chat, matchers: ['job=\"etl\"'], continue: true}\n"
        "      - {receiver: hook, matchers: ['job=\"etl\"']}\n"
        "  rules: [{alert: EtlFailed, when: run_failed, severity: error}]\n"
    )


@pytest.mark.parametrize("dashboard", [DASHBOARD, f"{DASHBOARD}/", None])
def test_pages_and_show_link_to_the_run_page_only_when_dashboard_url_is_set(
    tmp_path: Path, http_server: RecordingServer, dashboard: str | None
) -> None:
    write_settings(tmp_path, http_server, dashboard)
    env = clean_env(tmp_path / "home")

    assert run_cli(tmp_path, env, "run", "etl").returncode == 1
    shown = run_cli(tmp_path, env, "show", "1")
    as_json = json.loads(run_cli(tmp_path, env, "show", "1", "--format", "json").stdout)

    (slack,) = http_server.on("/services/T/B/X")
    (hook,) = http_server.on("/hook")
    (alert,) = hook.json["alerts"]
    link = f"{DASHBOARD}/?run=1"
    assert shown.returncode == 0, shown.stderr
    if dashboard:
        assert f"<{link}|run page>" in json.dumps(slack.json)
        assert alert["facts"]["run_url"] == link
        assert f"dashboard     {link}" in shown.stdout.splitlines()
        assert as_json["run_url"] == link
    else:
        assert "?run=" not in json.dumps(slack.json) + json.dumps(hook.json)
        assert alert["facts"].get("run_url") is None
        assert "dashboard" not in shown.stdout
        assert as_json["run_url"] is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("runwatch.example", "expected an http:// or https:// URL with a host"),
        ("ftp://runwatch.example", "expected an http:// or https:// URL with a host"),
        ("https://runwatch.example/?tab=runs", "expected a base URL without ?query or #fragment"),
    ],
)
def test_a_bad_dashboard_url_is_exit_2_naming_the_key_in_check_and_show(
    tmp_path: Path, url: str, problem: str
) -> None:
    (tmp_path / "runwatch.yaml").write_text(f"dashboard: {{url: '{url}'}}\n")
    env = clean_env(tmp_path / "home")

    for command in (("check",), ("show", "1")):
        result = run_cli(tmp_path, env, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert f"dashboard.url: {problem}" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_bad_dashboard_url_from_a_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text("dashboard: {url: '${DASHBOARD_URL}'}\n")
    env = {**clean_env(tmp_path / "home"), "DASHBOARD_URL": "hunter2.example/x"}

    for command in (("check",), ("show", "1")):
        result = run_cli(tmp_path, env, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert "dashboard.url: expected an http:// or https:// URL with a host" in result.stderr
        assert "hunter2" not in result.stderr + result.stdout
