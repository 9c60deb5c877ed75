"""Clean up after a supervisor that died: kill the task processes it left running."""

from __future__ import annotations

import logging
import os
import signal

from runner import supervisor
from runner.store.records import AttemptRecord

logger = logging.getLogger(__name__)

ORPHANED = "orphaned"
"""Reason recorded on attempts and runs whose supervising process died."""


def kill_leftover(attempt: AttemptRecord) -> bool:
    """Kill the process group of an orphaned attempt if it still runs on this host.

    Executors start each attempt in a session of its own, so its pid is its process
    group. Never signals a group that cannot be the attempt's: pids 0 and 1 (``killpg``
    would hit this process's own group or init), this process's group, the dead
    supervisor itself (an in-process attempt records the supervisor's pid), and a pid
    that no longer names the process recorded when the attempt started (its start time
    differs: the pid was reused, or the row never came from a process runwatch started).
    """
    pid, ident = attempt.pid, attempt.supervisor
    if pid is None or ident is None or not supervisor.is_local(ident):
        return False
    parsed = supervisor.parse(ident)
    if pid <= 1 or pid == os.getpgrp() or (parsed is not None and parsed[1] == pid):
        return False
    started = supervisor.process_start(pid)
    if started is None:
        return False  # gone already
    if started != attempt.pid_start:
        logger.warning(
            "not killing pid %s of orphaned attempt %s of %s/%s: it is not the process that "
            "attempt started (recorded start %s, this one started %s)",
            pid, attempt.number, attempt.job, attempt.task,
            attempt.pid_start or "unknown", started,
            extra={"job": attempt.job, "run_id": attempt.run_id},
        )  # fmt: skip
        return False
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    except PermissionError:
        logger.warning("not allowed to kill process group %s of an orphaned attempt", pid)
        return False
    logger.warning(
        "killed leftover process group %s of orphaned attempt %s of %s/%s",
        pid, attempt.number, attempt.job, attempt.task,
        extra={"job": attempt.job, "run_id": attempt.run_id},
    )  # fmt: skip
    return True
