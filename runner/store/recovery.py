"""Orphan recovery, the store's side: clean up after a supervisor that died or hung.

Find the task processes it left and have them killed and waited out
(``runner.processes``), so that no takeover ever starts an attempt beside a live one;
adopt an attempt whose keeper recorded its exit status; end its runs. Who is dead is
decided by the callers: ``Store.open`` (this host's dead processes, ``recover_orphans``)
and ``runner.executors.celery.recovery`` (schedulers and workers anywhere, by heartbeat).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner import exitstatus, processes
from runner.model import RunState, TaskState
from runner.store.attempts import AttemptTable
from runner.store.eventlog import EventLog, Part
from runner.store.leases import decide_outcome
from runner.store.records import AttemptRecord, RunRecord, to_epoch
from runner.store.runs import RunTable

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
    """True when the attempt's live process is kept: its parent is an executor's keeper
    (runner.executors.local.keeper_process), which writes the command's exit status to the
    attempt's status file, so the attempt can be adopted. Attempts started before the
    shared keeper ran under a Perl keeper of their own, recorded as the attempt's process:
    ``perl -e SCRIPT STATUS ...``."""
    if attempt.pid is None or attempt.stdout_path is None:
        return False
    argv = processes.command_line(attempt.pid)
    status = os.fsencode(exitstatus.status_path(attempt.stdout_path))
    if len(argv) > 3 and argv[1] == b"-e" and argv[3] == status:
        return True
    parent = processes.parent_of(attempt.pid)
    keeper = os.fsencode(processes.KEEPER_MODULE)
    return parent is not None and keeper in processes.command_line(parent)


def worker_attempts_here(store: Store, orphaned_since: datetime) -> list[AttemptRecord]:
    """Attempts a worker of this host claimed that are running, or that were failed
    ``orphaned`` since ``orphaned_since`` (their commands may still run here)."""
    # Two selects on the state index, not one OR that would read the whole table.
    mine = "heartbeat_at IS NOT NULL AND supervisor LIKE :host"
    rows = store._db.rows(
        f"SELECT * FROM attempts WHERE state = 'running' AND {mine} UNION ALL "
        f"SELECT * FROM attempts WHERE state = 'failed' AND {mine} "
        "AND reason = :orphaned AND finished_at >= :since ORDER BY id",
        {
            "host": socket.gethostname().replace("%", "_") + ":%",
            "orphaned": ORPHANED,
            "since": to_epoch(orphaned_since),
        },
    )
    attempts = [AttemptRecord.from_row(row) for row in rows]
    return [a for a in attempts if processes.is_local(a.supervisor or "")]


def spawned(attempt: AttemptRecord) -> exitstatus.Spawn | None:
    """The process the attempt's keeper wrote beside its logs on this host at the spawn,
    read only when none is recorded: its supervisor died between the spawn and the
    record. None when there is nothing to read here."""
    if attempt.pid is not None or attempt.stdout_path is None:
        return None
    if not processes.is_local(attempt.supervisor or ""):
        return None
    return exitstatus.read_spawn(exitstatus.status_path(attempt.stdout_path))


def left_a_trace(attempt: AttemptRecord) -> bool:
    """True when the attempt's process may be found on this host: its pid is recorded, or
    its keeper wrote a status file beside its logs."""
    if not processes.is_local(attempt.supervisor or ""):
        return False
    if attempt.pid is not None:
        return True
    return spawned(attempt) is not None or kept_status(attempt) is not None


def with_spawned_process(
    store: AttemptTable | Store, attempt: AttemptRecord
) -> AttemptRecord | None:
    """``attempt`` with its process: as recorded or, when its supervisor died before
    recording it, as its keeper wrote it at the spawn (then recorded in the store, so that
    whoever judges the attempt next finds it). None while its keeper, alive, is still
    spawning it: judge it again later. A keeper that died while spawning it leaves nothing
    to recognise: the attempt is returned without a process."""
    spawn = spawned(attempt)
    if spawn is None:
        return attempt
    if spawn.spawning:
        return None if processes.process_start(spawn.pid) == spawn.start else attempt
    store.set_attempt_process(attempt, pid=spawn.pid, pid_start=spawn.start)
    return dataclasses.replace(attempt, pid=spawn.pid, pid_start=spawn.start)


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


class Recovery(Part):
    """The store's side of orphan recovery: settle the attempts and end the runs of a
    supervisor that died (or hung), here and, for ``fail_runs_supervised_by``, anywhere."""

    def __init__(self, log: EventLog, runs: RunTable, attempts: AttemptTable) -> None:
        super().__init__(log)
        self._runs = runs
        self._attempts = attempts

    def recover_orphans(self, at: datetime | None = None) -> list[AttemptRecord]:
        """Settle running attempts and runs whose supervising process on this host is gone.

        An attempt whose command still runs under its keeper is left running, and its run
        with it, until the command ends (a later call adopts it); any other process of the
        attempt is killed, and waited for, first, so a retry never runs beside it. Returns
        the attempts this call settled.
        """
        from runner.clock import utcnow

        at = at or utcnow()
        # An attempt a worker claimed (heartbeat_at set) is the lease's, and so is its run:
        # its outcome may be decided already; the orphan recovery of `serve` records it.
        rows = self._db.rows(
            "SELECT * FROM attempts WHERE state = 'running' AND supervisor IS NOT NULL "
            "AND heartbeat_at IS NULL"
        )
        settled = []
        still_running = {
            int(row["run_id"])
            for row in self._db.rows(
                "SELECT DISTINCT run_id FROM attempts "
                "WHERE state = 'running' AND heartbeat_at IS NOT NULL"
            )
        }
        for row in rows:
            if processes.is_alive(row["supervisor"]):
                continue
            attempt = AttemptRecord.from_row(row)
            done = self.settle_leftover(attempt, at, kill=False)
            if done is None:
                still_running.add(attempt.run_id)
            elif done:
                settled.append(attempt)
        runs = self._db.rows(
            "SELECT * FROM runs WHERE state = 'running' AND supervisor IS NOT NULL"
        )
        for row in runs:
            if int(row["id"]) in still_running or processes.is_alive(row["supervisor"]):
                continue
            self.end_orphaned_run(int(row["id"]), row["job"], row["supervisor"], at)
        return settled

    def settle_leftover(self, attempt: AttemptRecord, at: datetime, *, kill: bool) -> bool | None:
        """Record the end of a running attempt whose supervisor died (or, ``kill``, hung).

        While its command still runs under its keeper and its supervisor is dead (not
        ``kill``), nothing is done: None, try again later. Any other live process of the
        attempt is killed and waited for (None if it is not gone by the deadline). Then the
        attempt's status file, when its keeper wrote one, gives its real outcome (the
        attempt is *adopted*); without one it failed as ``orphaned``. True when this call
        recorded the end, False when someone else had.
        """
        known = with_spawned_process(self._attempts, attempt)
        if known is None:
            return None
        attempt, killed = known, False
        if leftover_alive(attempt):
            if not kill and is_keeper(attempt):
                return None
            killed = kill_leftover(attempt)
            if not killed and leftover_alive(attempt):
                return None
        path = exitstatus.status_path(attempt.stdout_path) if attempt.stdout_path else None
        # A command this call killed ended by the kill, not by itself: its keeper's
        # status (if it wrote one yet) says only that.
        status = None if path is None or killed else exitstatus.read_status(path)
        if status is None:
            recorded = self._attempts.finish_attempt(
                attempt,
                TaskState.FAILED,
                at,
                reason=ORPHANED,
                error="the process supervising this attempt died; its outcome is unknown",
            )
            adopted = ""
        else:
            recorded = self._attempts.finish_attempt(
                attempt,
                adopted_state(status),
                max(status.ended_at, attempt.started_at),
                exit_code=status.exit_code,
                signal=status.signal,
                reason=adopted_reason(status),
            )
            adopted = f" (adopted: {ended(status)})"
        if path is not None:
            exitstatus.discard(path)
        if recorded:
            logger.warning(
                "attempt %s of %s/%s ended after its supervisor %s was gone%s",
                attempt.number, attempt.job, attempt.task, attempt.supervisor,
                adopted or ": failed, orphaned",
                extra={"job": attempt.job, "run_id": attempt.run_id},
            )  # fmt: skip
        return recorded

    def end_orphaned_run(self, run_id: int, job: str, owner: str, at: datetime) -> bool:
        """End a running run of a dead ``owner`` (conditionally: only if still its): as
        succeeded when every task had ended well (adopted), else failed ``orphaned``."""
        tasks = list(self._attempts.task_runs(run_id).values())
        failed = [t.task for t in tasks if t.state.failed or t.state is TaskState.RETRYING]
        done = all(t.state in (TaskState.SUCCESS, TaskState.SKIPPED) for t in tasks)
        return self._runs.finish_run(
            run_id,
            job,
            RunState.SUCCESS if done and tasks else RunState.FAILED,
            at,
            reason=None if done and tasks else ORPHANED,
            failed_tasks=failed,
            supervised_by=owner,
        )


def fail_runs_supervised_by(
    store: Store, identity: str, at: datetime, *, hung: bool = False
) -> list[RunRecord]:
    """End the running runs of a dead (or, ``hung``, unresponsive) process and release its
    queued claims.

    Its attempts on this host are settled first (``Store.settle_leftover``: killed and
    waited for if it hung, adopted when their command ended); a run whose command still
    runs under its keeper is left running until it ends. Attempts no worker has claimed
    are decided as orphaned, so their messages are refused; a run with an attempt a
    worker claimed is left running until that attempt's outcome is recorded (see
    ``claimed_attempts_of``), so it ends as its tasks did, with no false failure. A run
    whose tasks all ended well succeeds, others fail ``orphaned`` (to be resumed).
    Returns the runs this call ended.
    """
    with store.transaction():
        store._db.execute(
            "UPDATE runs SET supervisor = NULL WHERE state = 'queued' AND supervisor = :s",
            {"s": identity},
        )
    rows = store._db.rows(
        "SELECT * FROM runs WHERE state = 'running' AND supervisor = :s ORDER BY id",
        {"s": identity},
    )
    ended = []
    for row in rows:
        run = RunRecord.from_row(row)
        attempts = store._db.rows(
            "SELECT * FROM attempts WHERE run_id = :id AND state = 'running'", {"id": run.id}
        )
        waiting = False
        for found in attempts:
            attempt = AttemptRecord.from_row(found)
            if found["heartbeat_at"] is not None:
                waiting = True  # a worker runs it: the run ends once its outcome is recorded
            elif left_a_trace(attempt):
                waiting |= store.settle_leftover(attempt, at, kill=hung) is None
            else:
                decide_outcome(store, attempt.id, orphaned_outcome(identity))
        if not waiting and store.end_orphaned_run(run.id, run.job, identity, at):
            ended.append(run)
    return ended


def orphaned_outcome(who: str) -> dict[str, Any]:
    """The outcome recorded for an attempt whose supervising process stopped answering."""
    return {
        "state": TaskState.FAILED.value,
        "reason": ORPHANED,
        "error": f"{who} stopped heartbeating while supervising this attempt; "
        "its outcome is unknown",
    }
