"""`runwatch dashboard`'s pieces: the Streamlit command line and what the app is handed.
(The whole command, with a real browser, is tests/e2e/test_dashboard.py.)"""

from __future__ import annotations

import argparse
import json
import stat
import tomllib
from pathlib import Path

import pytest

from runner.cli.commands.dashboard import (
    UNREAD_SECTIONS,
    _absolute_sqlite,
    _trace_url,
    operations_env,
    streamlit_command,
)
from runner.cli.context import Context
from runner.cli.dashboard_secrets import private_secrets_file
from runner.dashboard_access import read_dashboard_access
from runner.errors import DefinitionError
from runner.secret import Secret
from runner.store.store import Store
from tests.e2e.cli import clean_env, run_cli


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


ACTIONS_WITHOUT_LOGIN = "dashboard:\n  actions: true\n  allow: {trigger: [alice@example.com]}\n"


def test_the_dashboard_refuses_to_start_with_actions_and_no_login(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text(ACTIONS_WITHOUT_LOGIN)

    done = run_cli(tmp_path, clean_env(tmp_path / "home"), "dashboard", "--port", "1")

    assert done.returncode == 2, done.stderr
    assert "key 'dashboard.actions'" in done.stderr
    assert "dashboard.auth" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_names_a_mistyped_dashboard_key(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text("dashboard:\n  alow: {trigger: [a@x]}\n")

    done = run_cli(tmp_path, clean_env(tmp_path / "home"), "check")

    assert done.returncode == 2
    assert "unknown key 'alow' (did you mean 'allow'?)" in done.stderr


def test_the_login_secrets_go_to_a_private_file_removed_afterwards() -> None:
    auth = {"client_secret": 'se"cr\\et', "cookie_secret": "c" * 32}

    with private_secrets_file(auth) as path:
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert tomllib.loads(path.read_text())["auth"] == auth
    assert not path.parent.exists()
    with private_secrets_file(None) as nothing:
        assert nothing is None


def test_the_app_gets_the_allow_list_and_never_a_login_secret(tmp_path: Path) -> None:
    access = read_dashboard_access(
        {
            "actions": True,
            "auth": {
                "client_id": "rw",
                "client_secret": Secret("client-s3cr3t"),
                "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration",
                "redirect_uri": "http://127.0.0.1:2/oauth2callback",
                "cookie_secret": Secret("k" * 40),
            },
            "allow": {"cancel": ["group:ops"]},
        },
        "runwatch.yaml",
    )

    env = operations_env(access, tmp_path / "runwatch.yaml")

    assert json.loads(env["RUNWATCH_DASHBOARD_ACTIONS"]) == {"cancel": ["group:ops"]}
    assert env["RUNWATCH_DASHBOARD_LOGIN"] == "groups"
    assert env["RUNWATCH_DASHBOARD_CONFIG"] == str((tmp_path / "runwatch.yaml").resolve())
    assert "s3cr3t" not in json.dumps(env)
    assert "k" * 40 not in json.dumps(env)
    assert operations_env(read_dashboard_access({}, "runwatch.yaml"), None) == {}


def test_trigger_says_the_queued_run_in_json(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text(
        "jobs:\n  export:\n    tasks:\n      one: {command: ['true']}\n"
    )

    done = run_cli(
        tmp_path,
        clean_env(tmp_path / "home"),
        "trigger",
        "export",
        "--param",
        "day=1",
        "--format",
        "json",
    )

    assert done.returncode == 0, done.stderr
    queued = json.loads(done.stdout)
    assert (queued["job"], queued["scheduler_alive"]) == ("export", False)
    with Store.open(f"sqlite:///{tmp_path / 'home' / 'runwatch.db'}", migrate=False) as store:
        assert store.get_run(queued["run_id"]).params == {"day": "1"}


LOGIN_FROM_THE_ENVIRONMENT = """\
dashboard:
  auth:
    client_id: rw
    client_secret: ${OIDC_CLIENT_SECRET}
    server_metadata_url: https://idp.example/.well-known/openid-configuration
    redirect_uri: https://rw.example/oauth2callback
    cookie_secret: ${DASHBOARD_COOKIE_SECRET}
"""


def test_only_the_dashboard_and_check_need_the_logins_secrets(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text(LOGIN_FROM_THE_ENVIRONMENT)
    env = {"RUNWATCH_HOME": str(tmp_path / "home")}  # neither secret is set here

    assert Context(argparse.Namespace(), env, tmp_path).settings.dashboard == {}
    reader = Context(argparse.Namespace(), env, tmp_path, reads_login=True)
    with pytest.raises(DefinitionError, match="OIDC_CLIENT_SECRET is not set"):
        reader.settings  # noqa: B018 - the dashboard needs them
    done = run_cli(tmp_path, clean_env(tmp_path / "home"), "check")
    assert done.returncode == 2
    assert "OIDC_CLIENT_SECRET" in done.stderr
