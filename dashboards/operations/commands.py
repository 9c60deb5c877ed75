"""The runwatch commands an action runs (``trigger``, ``run``, ``silence add``): the same
code path as on the command line, in a child process with the dashboard's settings file
and store, so the dashboard itself never loads job definitions or alerting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dashboards.settings import FALLBACK_DB_URL_VARIABLE, DashboardSettings
from runner.filemodes import private_file

COMMAND_TIMEOUT = 120.0
_SHOWN_LINES = 5


@dataclass(frozen=True)
class CommandResult:
    """A finished command: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def problem(self) -> str:
        """The end of what it said on stderr (the command's own, redacted, message)."""
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return "\n".join(lines[-_SHOWN_LINES:]) or f"exit status {self.returncode}"


def runwatch_argv(settings: DashboardSettings, *args: str) -> list[str]:
    """``python -m runner ARGS --config FILE`` for this interpreter."""
    config = ["--config", settings.config_path] if settings.config_path else []
    return [sys.executable, "-m", "runner", *args, *config]


def child_env(settings: DashboardSettings, env: Mapping[str, str]) -> dict[str, str]:
    """The dashboard's environment with its store as ``RUNWATCH_DB_URL`` (never argv)."""
    child = dict(env)
    if settings.db_url:
        child[FALLBACK_DB_URL_VARIABLE] = settings.db_url
    return child


def run_command(settings: DashboardSettings, *args: str) -> CommandResult:
    """Run a quick runwatch command to its end."""
    done = subprocess.run(
        runwatch_argv(settings, *args),
        env=child_env(settings, os.environ),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return CommandResult(done.returncode, done.stdout, done.stderr)


def start_command(settings: DashboardSettings, log: Path, *args: str) -> int:
    """Start a long runwatch command (a rerun) in its own session, its output to ``log``;
    it goes on if the dashboard stops. Returns its pid."""
    private_file(log)  # 0600 in 0700 folders: a task may print anything
    with log.open("ab") as out:
        process = subprocess.Popen(
            runwatch_argv(settings, *args),
            env=child_env(settings, os.environ),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    threading.Thread(target=process.wait, daemon=True).start()  # reap it when it ends
    return process.pid
