"""`runwatch dashboard`: the Streamlit app on the configured store, read-only by default.

The CLI is the composition root: it resolves the settings the dashboard needs (the store,
the home folder, ``telemetry.trace_url``; from runwatch.yaml, ``RUNWATCH_*`` and
``--db``) and starts
``streamlit run`` on the packaged app, headless and without usage statistics, handing
it the database URL and the trace link template through environment variables.
With ``dashboard.actions: true`` (refused without ``dashboard.auth``) it also hands the
app the allow-list and writes Streamlit's login secrets to a private file.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path
from types import FrameType
from typing import Any

from runner.cli.context import Context
from runner.cli.dashboard_secrets import private_secrets_file
from runner.dashboard_access import DashboardAccess, read_dashboard_access
from runner.errors import UsageError

logger = logging.getLogger(__name__)

UNREAD_SECTIONS = ("alerting", "server", "executor")
"""What the dashboard never reads: their secrets are other components' business."""
DEFAULT_PORT = 8501
DEFAULT_ADDRESS = "127.0.0.1"
_STOP_TIMEOUT = 10.0


def command(ctx: Context) -> int:
    """Serve the dashboard until interrupted; the exit status is Streamlit's."""
    if find_spec("streamlit") is None:
        raise UsageError(
            "the dashboard needs Streamlit: pip install '.[dashboard]' in a runwatch "
            "checkout (or pip install streamlit)"
        )
    ctx.unread_sections = UNREAD_SECTIONS
    ctx.reads_login = True
    import dashboards
    from dashboards import settings as names

    port = int(getattr(ctx.args, "port", DEFAULT_PORT))
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: expected a TCP port, 1-65535")
    address = str(getattr(ctx.args, "address", DEFAULT_ADDRESS))
    package = Path(dashboards.__file__).resolve().parent
    env = dict(ctx.env)
    env[names.DB_URL_VARIABLE] = _absolute_sqlite(ctx.settings.db_url, ctx.cwd)
    env[names.LOGS_DIR_VARIABLE] = str((ctx.settings.home / "logs").resolve())
    trace_url = _trace_url(ctx.settings.telemetry)
    if trace_url:
        env[names.TRACE_URL_VARIABLE] = trace_url
    access = read_dashboard_access(
        ctx.settings.dashboard, str(ctx.settings.config_path or "runwatch.yaml")
    )
    env.update(operations_env(access, ctx.settings.config_path))
    # the app imports the dashboards package, installed or from this source tree
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(package.parent), env.get("PYTHONPATH", "")) if p
    )
    mode = "operations for allowed users" if access.actions else "read-only"
    login = ", OpenID Connect login" if access.auth is not None else ""
    print(
        f"runwatch dashboard: http://{address}:{port}/ (store {ctx.settings.db_url_redacted},"
        f" {mode}{login})",
        flush=True,
    )
    auth = None if access.auth is None else access.auth.streamlit_section()
    with private_secrets_file(auth) as secrets:
        cmd = streamlit_command(package / "app.py", port, address)
        if secrets is not None:
            cmd.append(f"--secrets.files={secrets}")
        return _serve(cmd, env)


def operations_env(access: DashboardAccess, config_path: Path | None) -> dict[str, str]:
    """What the app needs to offer operations: the groups claim of the login, the
    allow-list and, for the commands it runs, the settings file. Empty when read-only
    without a login."""
    from dashboards import settings as names

    env: dict[str, str] = {}
    if access.auth is not None:
        env[names.LOGIN_VARIABLE] = access.auth.groups_claim
    if access.actions:
        env[names.ACTIONS_VARIABLE] = access.allow.to_json()
        if config_path is not None:
            env[names.CONFIG_VARIABLE] = str(config_path.resolve())
    return env


def streamlit_command(app: Path, port: int, address: str) -> list[str]:
    """``streamlit run`` on ``app``: headless, no usage statistics, no file watching."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        f"--server.port={port}",
        f"--server.address={address}",
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--client.toolbarMode=viewer",
        "--global.developmentMode=false",
    ]


def _serve(cmd: list[str], env: Mapping[str, str]) -> int:
    """Run Streamlit in the foreground; SIGTERM to runwatch stops it too."""
    process = subprocess.Popen(cmd, env=dict(env))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        process.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:  # the terminal sent SIGINT to Streamlit as well
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if process.poll() is None:
            process.kill()
            process.wait()


def _absolute_sqlite(url: str, cwd: Path) -> str:
    """A relative SQLite path is relative to where runwatch was started, not to Streamlit."""
    from runner.store.database import parse_url

    parsed = parse_url(url)
    if parsed.path is None or Path(parsed.path).is_absolute():
        return url
    return f"sqlite:///{(cwd / parsed.path).resolve()}"


def _trace_url(telemetry: Mapping[str, Any]) -> str | None:
    """``telemetry.trace_url``, checked; None when unset or built from a secret."""
    from runner.secret import Secret
    from runner.telemetry.links import check_trace_url

    template = telemetry.get("trace_url")
    if template is None:
        return None
    if isinstance(template, Secret):
        logger.warning(
            "telemetry.trace_url is built from an environment variable, so it is a secret: "
            "the dashboard shows trace ids without links"
        )
        return None
    check_trace_url(str(template))
    return str(template)
