"""How a process ended, told as the outcome of an attempt."""

from __future__ import annotations

import signal
from collections.abc import Collection

from runner.engine.executor import AttemptFinished
from runner.model import TaskState


def describe_signal(signum: int) -> str:
    """``killed by signal 9 (SIGKILL)``."""
    try:
        return f"killed by signal {signum} ({signal.Signals(signum).name})"
    except ValueError:
        return f"killed by signal {signum}"


def exited(
    key: int,
    returncode: int,
    *,
    skip_exit_code: int | None = None,
    branch_codes: Collection[int] = (),
    error: str | None = None,
) -> AttemptFinished:
    """The outcome of a process that ended on its own; ``returncode`` is negative for a signal.

    ``branch_codes`` (a command's ``branch_on_exit``) are exit codes that are successes.
    """
    if returncode < 0:
        return AttemptFinished(
            key,
            TaskState.FAILED,
            signal=-returncode,
            error=error,
            reason=describe_signal(-returncode),
        )
    if returncode == 0:
        return AttemptFinished(key, TaskState.SUCCESS, exit_code=0)
    if returncode in branch_codes:
        return AttemptFinished(
            key, TaskState.SUCCESS, exit_code=returncode, reason=f"exit code {returncode} (branch)"
        )
    if returncode == skip_exit_code:
        return AttemptFinished(
            key, TaskState.SKIPPED, exit_code=returncode, reason=f"exit code {returncode} (skip)"
        )
    return AttemptFinished(
        key, TaskState.FAILED, exit_code=returncode, error=error, reason=f"exit code {returncode}"
    )


def stopped(key: int, state: TaskState, reason: str, returncode: int | None) -> AttemptFinished:
    """The outcome of a process we stopped (timed out or cancelled)."""
    if returncode is None:
        return AttemptFinished(key, state, reason=reason)
    if returncode < 0:
        return AttemptFinished(key, state, signal=-returncode, reason=reason)
    return AttemptFinished(key, state, exit_code=returncode, reason=reason)


def working_directory_error(cwd: str, exc: OSError) -> str:
    """``working directory not found: '/data'``, or what else is wrong with it."""
    if isinstance(exc, FileNotFoundError):
        return f"working directory not found: {cwd!r}"
    return f"cannot use working directory {cwd!r}: {exc.strerror or exc}"


def internal_error(key: int, exc: BaseException) -> AttemptFinished:
    """The outcome when runwatch itself failed while running the attempt."""
    return AttemptFinished(
        key,
        TaskState.FAILED,
        error=f"runwatch internal error: {type(exc).__name__}: {exc}",
        reason="internal error",
    )
