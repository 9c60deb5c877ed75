"""Clean up after a supervisor that died or hung: find the task processes it left, and
have them killed and waited out (``runner.processes``), so that no takeover ever starts
an attempt beside a live one."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner import exitstatus, processes
from runner.model import TaskState
from runner.store.records import AttemptRecord, to_epoch

if TYPE_CHECKING:
    from runner.store.store import Store

logger = logging.getLogger(__name__)

ORPHANED = "orphaned"
"""Reason recorded on attempts and runs whose supervising process died."""
ADOPTED = "adopted after the supervisor died"
"""Reason recorded on attempts whose outcome was read from their keeper's status file."""


def leftover_alive(attempt: AttemptRecord) -> bool:
    """True while the process recorded for the attempt still runs on this host, as the
    same process (its pid and start time match). An attempt without both is never alive:
    nothing runwatch can recognise is left of it."""
    pid, ident = attempt.pid, attempt.supervisor
    if pid is None or attempt.pid_start is None or ident is None:
        return False
    if not processes.is_local(ident):
        return False
    return processes.process_start(pid) == attempt.pid_start


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
    return [a for a in attempts if processes.is_local(a.supervisor or "")]


def still_kept(attempt: AttemptRecord) -> bool:
    """True while the attempt's command runs on under its keeper on this host: its outcome
    will be in its status file once it ends, so wait for it rather than judge it."""
    return leftover_alive(attempt) and is_keeper(attempt)


def kept_status(attempt: AttemptRecord) -> exitstatus.ExitStatus | None:
    """How the attempt's command ended, as its keeper recorded it beside the attempt's
    logs on this host; None when there is no status file to read here."""
    if attempt.stdout_path is None or not processes.is_local(attempt.supervisor or ""):
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


def kill_leftover(attempt: AttemptRecord) -> bool:
    """Kill the process group of an orphaned attempt if it still runs on this host, and
    wait until it is gone. True when it was killed and is gone; ``processes.kill_group``
    says which groups are never signalled."""
    pid, ident = attempt.pid, attempt.supervisor
    if pid is None or ident is None:
        return False
    gone = processes.kill_group(pid, attempt.pid_start, ident)
    if gone is None:
        return False
    logger.warning(
        "killed leftover process group %s of orphaned attempt %s of %s/%s%s",
        pid, attempt.number, attempt.job, attempt.task, "" if gone else "; it is not gone yet",
        extra={"job": attempt.job, "run_id": attempt.run_id},
    )  # fmt: skip
    return gone
