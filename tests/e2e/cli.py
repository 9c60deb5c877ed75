"""What the end-to-end tests share: a clean environment for `runwatch` child processes,
and a free loopback port."""

from __future__ import annotations

import os
import socket
from pathlib import Path


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
