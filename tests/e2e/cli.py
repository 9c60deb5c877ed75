"""What the end-to-end tests share: a clean environment for `runwatch` child processes,
and a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def clean_env(home: Path) -> dict[str, str]:
    """This environment without RUNWATCH_*/OTEL_* variables, with RUNWATCH_HOME=home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWATCH_", "OTEL_"))}
    env["RUNWATCH_HOME"] = str(home)
    return env


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_binary(*names: str, install: str) -> str:
    """The path of the first of ``names`` on PATH. Absent: skip the test with the reason
    locally, fail it when CI is set (CI must install ``install``)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    reason = f"{names[0]} is not installed (Debian: apt-get install {install})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so this test must run", pytrace=False)
    pytest.skip(reason)


def run_cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`runwatch ARGS` as a real process in ``cwd``: its exit code and captured text."""
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
