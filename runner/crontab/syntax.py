"""Whether a job's shell can read its command at all (``SHELL -n -c COMMAND``).

A command with a syntax error — an unmatched quote, say — fails on every run under cron,
usually unseen. Parsing it with the job's own shell, ``-n`` (read, execute nothing), is
the one exact test; when that shell is not installed here the check is left out.
"""

from __future__ import annotations

import os
import subprocess

_TIMEOUT_SECONDS = 10


def shell_syntax_error(shell: str, command: str) -> str | None:
    """The shell's complaint about the command, or None when it reads (or cannot check)."""
    if not os.access(shell, os.X_OK):
        return None
    try:
        checked = subprocess.run(
            [shell, "-n", "-c", command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env={},
            timeout=_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if checked.returncode == 0:
        return None
    said = checked.stderr.decode(errors="replace").strip().splitlines()
    return said[-1] if said else f"exit status {checked.returncode}"
