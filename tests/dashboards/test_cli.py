"""`runwatch dashboard`'s pieces: the Streamlit command line and what the app is handed.
(The whole command, with a real browser, is tests/e2e/test_dashboard.py.)"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from runner.cli.commands.dashboard import (
    UNREAD_SECTIONS,
    _absolute_sqlite,
    _trace_url,
    streamlit_command,
)
from runner.cli.context import Context
from runner.errors import DefinitionError
from runner.secret import Secret


def test_streamlit_runs_headless_without_usage_statistics_or_file_watching() -> None:
    cmd = streamlit_command(Path("/app/dashboards/app.py"), 8600, "127.0.0.1")

    assert cmd[1:5] == ["-m", "streamlit", "run", "/app/dashboards/app.py"]
    assert {
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--server.port=8600",
        "--server.address=127.0.0.1",
        "--server.fileWatcherType=none",
    } <= set(cmd)


def test_a_relative_sqlite_path_is_made_absolute(tmp_path: Path) -> None:
    assert (
        _absolute_sqlite("sqlite:///state/rw.db", tmp_path) == f"sqlite:///{tmp_path}/state/rw.db"
    )
    assert _absolute_sqlite("sqlite:////abs/rw.db", tmp_path) == "sqlite:////abs/rw.db"
    pg = "postgresql+psycopg://u:p@db/rw"
    assert _absolute_sqlite(pg, tmp_path) == pg


def test_the_trace_link_template_is_checked_and_never_taken_from_a_secret() -> None:
    assert _trace_url({}) is None
    assert _trace_url({"trace_url": "https://t/{trace_id}"}) == "https://t/{trace_id}"
    assert _trace_url({"trace_url": Secret("https://t/{trace_id}?key=k")}) is None
    with pytest.raises(DefinitionError, match="trace_id"):
        _trace_url({"trace_url": "https://t/"})


OTHER_COMPONENTS_SECRETS = (
    "server:\n  token: ${RUNWATCH_PING_TOKEN}\n"
    "executor: {kind: celery, broker_url: '${BROKER_URL}'}\n"
    "alerting:\n"
    "  receivers: {team: {slack: {webhook_url: '${SLACK_URL}'}}}\n"
    "  route: {receiver: team}\n"
    "telemetry: {trace_url: 'https://tempo.example/trace/{trace_id}'}\n"
)


def test_the_dashboard_does_not_need_the_secrets_of_other_components(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text(OTHER_COMPONENTS_SECRETS)
    env = {"RUNWATCH_HOME": str(tmp_path / "home")}  # no RUNWATCH_PING_TOKEN, SLACK_URL

    ctx = Context(argparse.Namespace(), env, tmp_path, unread_sections=UNREAD_SECTIONS)

    assert ctx.settings.home == tmp_path / "home"
    assert _trace_url(ctx.settings.telemetry) == "https://tempo.example/trace/{trace_id}"
    assert (ctx.settings.server, ctx.settings.alerting, ctx.settings.executor) == ({}, {}, {})
    everything = Context(argparse.Namespace(), env, tmp_path)
    with pytest.raises(DefinitionError, match="RUNWATCH_PING_TOKEN is not set"):
        everything.settings  # noqa: B018 - other commands still need the token
