"""`runwatch check` refuses an unknown key in every section of runwatch.yaml, with a
did-you-mean, and a URL that is not one where a URL is expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli import clean_env

CASES = [
    ("telemetry:\n  trace_ur: x\n", "telemetry", "did you mean 'trace_url'?"),
    ("dashboard:\n  ur: https://runwatch.example\n", "dashboard.ur", "did you mean 'url'?"),
    ("executor:\n  kindd: local\n", "executor", "did you mean 'kind'?"),
    ("server:\n  tokn: x\n", "server", "did you mean"),
    ("alerting:\n  rulez: []\n", "alerting.rulez", "did you mean 'rules'?"),
    (
        "alerting:\n  receivers:\n    team: {slack: {webhook_ur: 'https://hooks.slack.com/x'}}\n",
        "alerting.receivers.team.slack.webhook_ur",
        "did you mean 'webhook_url'?",
    ),
    (
        "alerting:\n  receivers:\n    team: {slack: {webhook_url: not a url}}\n",
        "alerting.receivers.team.slack.webhook_url",
        "expected an http:// or https:// URL",
    ),
    (
        "alerting:\n  receivers:\n    team: {webhook: {url: 'hooks.example/x'}}\n",
        "alerting.receivers.team.webhook.url",
        "expected an http:// or https:// URL",
    ),
]


@pytest.mark.parametrize(("text", "key", "said"), CASES, ids=[c[1] for c in CASES])
def test_check_names_the_bad_key_of_every_section(
    tmp_path: Path, text: str, key: str, said: str
) -> None:
    (tmp_path / "runwatch.yaml").write_text(text)

    result = subprocess.run(
        [sys.executable, "-m", "runner", "check"],
        cwd=tmp_path,
        env=clean_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("runwatch: error: ")
    assert "runwatch.yaml: " in line
    assert key in line
    assert said in line
    assert "not a url" not in line  # a webhook URL may be a secret: never shown
    assert "Traceback" not in result.stderr
