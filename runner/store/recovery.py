"""Clean up after a supervisor that died or hung: find, kill and wait out the task
processes it left, so that no takeover ever starts an attempt beside a live one."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner import exitstatus, supervisor
from runner.model import TaskState
from runner.store.records import AttemptRecord, to_epoch

if TYPE_CHECKING:
    from runner.store.store import Store

logger = logging.getLogger(__name__)

ORPHANED = "orphaned"
"""Reason recorded on attempts and runs whose supervising process died."""
ADOPTED = "adopted after the supervisor died"
"""Reason recorded on attempts whose outcome was read from their keeper's status file."""

GONE_DEADLINE_SECONDS = 10.0
"""How long a killed process group may take to be gone before the takeover waits a pass."""
_POLL_SECONDS = 0.02


def leftover_alive(attempt: AttemptRecord) -> bool:
    """True while the process recorded for the attempt still runs on this host, as the
    same process (its pid and start time match). An attempt without both is never alive:
    nothing runwatch can recognise is left of it."""
    pid, ident = attempt.pid, attempt.supervisor
    if pid is None or attempt.pid_start is None or ident is None:
        return False
    if not supervisor.is_local(ident):
        return False
    return supervisor.process_start(pid) == attempt.pid_start


def is_keeper(attempt: AttemptRecord) -> bool:
    """True when the attempt's live process is the keeper of its command: its exit status
    will be written to the attempt's status file, so the attempt can be adopted."""
    if attempt.pid is None or attempt.stdout_path is None:
        return False
    try:
        with open(f"/proc/{attempt.pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    status = os.fsencode(str(exitstatus.status_path(attempt.stdout_path)))
    return len(argv) > 3 and argv[1] == b"-e" and argv[3] == status


def worker_attempts_here(store: Store, orphaned_since: datetime) -> list[AttemptRecord]:
    """Attempts a worker of this host claimed that are running, or that were failed
    ``orphaned`` since ``orphaned_since`` (their commands may still run here)."""
    rows = store.db.rows(
        "SELECT * FROM attempts WHERE heartbeat_at IS NOT NULL AND supervisor LIKE :host "
        "AND (state = 'running' OR (reason = :orphaned AND finished_at >= :since)) "
        "ORDER BY id",
        {
            "host": socket.gethostname().replace("%", "_") + ":%",
            "orphaned": ORPHANED,
            "since": to_epoch(orphaned_since),
        },
    )
    attempts = [AttemptRecord.from_row(row) for row in rows]
    return [a for a in attempts if supervisor.is_local(a.supervisor or "")]


def still_kept(attempt: AttemptRecord) -> bool:
    """True while the attempt's command runs on under its keeper on this host: its outcome
    will be in its status file once it ends, so wait for it rather than judge it."""
    return leftover_alive(attempt) and is_keeper(attempt)


def kept_status(attempt: AttemptRecord) -> exitstatus.ExitStatus | None:
    """How the attempt's command ended, as its keeper recorded it beside the attempt's
    logs on this host; None when there is no status file to read here."""
    if attempt.stdout_path is None or not supervisor.is_local(attempt.supervisor or ""):
        return None
    return exitstatus.read_status(exitstatus.status_path(attempt.stdout_path))


def adopted_state(status: exitstatus.ExitStatus) -> TaskState:
    """The state of an adopted attempt: success for exit code 0, else failed."""
    return TaskState.SUCCESS if status.returncode == 0 else TaskState.FAILED


def adopted_reason(status: exitstatus.ExitStatus) -> str:
    """The reason recorded on an adopted attempt (``runwatch show`` prints it)."""
    return ADOPTED if status.returncode == 0 else f"{ADOPTED}: {ended(status)}"


def adopted_outcome(status: exitstatus.ExitStatus) -> dict[str, Any]:
    """An adopted attempt's outcome as a worker would record it (``attempts.outcome``)."""
    outcome: dict[str, Any] = {
        "state": adopted_state(status).value,
        "reason": adopted_reason(status),
    }
    if status.signal is not None:
        outcome["signal"] = status.signal
    else:
        outcome["exit_code"] = status.exit_code
    return outcome


def ended(status: exitstatus.ExitStatus) -> str:
    """How a command ended, in words: ``exit code 4``, ``killed by signal 9``."""
    if status.signal is not None:
        return f"killed by signal {status.signal}"
    return f"exit code {status.exit_code}"


def group_running(pgid: int) -> bool:
    """True while a process of the group has not exited (zombies have: they run nothing)."""
    group = str(pgid).encode()
    with os.scandir("/proc") as entries:
        names = [e.name for e in entries if e.name.isdigit()]
    for name in names:
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[2] == group and fields[0] not in (b"Z", b"X", b"x"):
            return True
    return False


def wait_group_gone(pgid: int, deadline_seconds: float = GONE_DEADLINE_SECONDS) -> bool:
    """Poll until no process of the group runs; False if some still does at the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while group_running(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def kill_leftover(attempt: AttemptRecord) -> bool:
    """Kill the process group of an orphaned attempt if it still runs on this host, and
    wait until it is gone. True when it was killed and is gone.

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
    gone = wait_group_gone(pid)
    logger.warning(
        "killed leftover process group %s of orphaned attempt %s of %s/%s%s",
        pid, attempt.number, attempt.job, attempt.task, "" if gone else "; it is not gone yet",
        extra={"job": attempt.job, "run_id": attempt.run_id},
    )  # fmt: skip
    return gone
