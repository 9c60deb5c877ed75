"""Command attempts, run by the executor's keeper (runner.executors.local.keeper_process).

No thread per attempt: a request to the keeper starts the command, and the keeper's
replies, heard on one thread, report it launched and ended.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping

from runner import exitstatus
from runner.engine import outcome
from runner.engine.executor import AttemptFinished, AttemptLaunched, AttemptSpec, MessageQueue
from runner.executors.local.capture import log_header
from runner.executors.local.command_result import ResultFile
from runner.executors.local.keeper import KeeperClient, Reply
from runner.executors.local.keeper_launch import KeeperLostError
from runner.executors.local.process_group import signal_group
from runner.filemodes import private_folder
from runner.model import TaskState
from runner.processes import process_start

logger = logging.getLogger(__name__)


def argv_of(command: tuple[str, ...] | str) -> list[str]:
    """A tuple is the argv itself; a string is run by ``/bin/sh -c``."""
    return ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)


class CommandAttempt:
    """One command attempt: what was asked of the keeper for it, and what it answered."""

    def __init__(
        self,
        spec: AttemptSpec,
        messages: MessageQueue,
        on_done: Callable[[int], None],
        keeper: KeeperClient,
        fence: float | None = None,
    ) -> None:
        self.spec = spec
        self._fence = fence
        self._messages = messages
        self._on_done = on_done
        self._keeper = keeper
        self._lock = threading.Lock()
        self._stop_request: tuple[TaskState, str] | None = None
        self._process: tuple[int, str | None] | None = None
        self._launched = False
        self._finished = False
        self._done = threading.Event()
        self._status: str | None = None
        self._result: ResultFile | None = None

    def join(self, timeout: float | None = None) -> None:
        """Wait until the attempt has finished."""
        self._done.wait(timeout)

    def start(self, environment: Mapping[str, str]) -> None:
        """Ask the keeper to run the command in ``environment``; reports a command that
        cannot be asked for at once."""
        spec = self.spec
        assert spec.task.command is not None
        argv = argv_of(spec.task.command)
        if not argv:
            error = "empty command"
            self._fail(
                AttemptFinished(
                    spec.key, TaskState.FAILED, exit_code=127, error=error, reason=error
                )
            )
            return
        logs = (_absolute(spec.stdout_path), _absolute(spec.stderr_path))
        beside = logs[0] if logs[0] is not None and _folder_made(logs[0]) else None
        self._status = None if beside is None else exitstatus.status_path(beside)
        self._result = ResultFile(spec, beside)
        try:
            self._keeper.spawn(
                spec.key,
                argv,
                {**environment, **self._result.environment()},
                spec.task.cwd,
                logs=logs,
                cap_bytes=spec.log_cap_bytes,
                header=log_header(spec),
                status=self._status,
                passthrough=spec.passthrough,
                fence=self._fence,
            )
        except ValueError as exc:  # a request too large to send
            error = f"cannot run {argv[0]!r}: {exc}"
            self._fail(
                AttemptFinished(
                    spec.key, TaskState.FAILED, exit_code=126, error=error, reason=error
                )
            )

    def request_stop(self, state: TaskState, reason: str) -> None:
        """SIGTERM the process group now, SIGKILL after the grace; finish as ``state``.

        Does nothing once the process has exited: its own outcome stands.
        """
        with self._lock:
            if self._finished or self._stop_request is not None:
                return
            self._stop_request = (state, reason)
        try:
            self._keeper.stop(self.spec.key, self.spec.kill_grace)
        except KeeperLostError:
            logger.warning("cannot stop attempt %d: its keeper is gone", self.spec.key)

    def on_reply(self, reply: Reply) -> None:
        """The keeper's word on this attempt."""
        kind = reply[0]
        if kind == "launched":
            _, _, pid, start, traced = reply
            self._process = (pid, start)
            self._launch(pid, start, traced)
        elif kind == "failed":
            _, key, errno, message, filename = reply
            program = argv_of(self.spec.task.command or ())[0]
            if errno is None:
                error = f"cannot run {program!r}: {message}"
                self._fail(
                    AttemptFinished(key, TaskState.FAILED, exit_code=126, error=error, reason=error)
                )
            else:
                self._fail(
                    spawn_failure(
                        key, program, self.spec.task.cwd, OSError(errno, message, filename)
                    )
                )
        elif kind == "ended":
            _, key, returncode, tail, stopped = reply
            with self._lock:
                request = self._stop_request
            if stopped and request is not None:
                self._finish(outcome.stopped(key, *request, returncode))
            else:
                task = self.spec.task
                self._finish(
                    outcome.exited(
                        key,
                        returncode,
                        skip_exit_code=task.skip_exit_code,
                        branch_codes=task.branch_on_exit,
                        error=tail,
                    )
                )

    def on_keeper_lost(self) -> None:
        """The keeper died before this attempt ended: kill what it left, report the failure."""
        process = self._process
        if process is not None and process_start(process[0]) == process[1]:
            signal_group(process[0], signal.SIGKILL)  # unsupervised, it would run on unseen
        self._fail(
            outcome.internal_error(self.spec.key, KeeperLostError("the keeper process died"))
        )

    def _launch(self, pid: int | None, start: str | None, traced: bool = False) -> None:
        """``traced``: the keeper says the status file names the command (the `command`
        line; or, start None: the command has exited, the `exit` line comes before its
        reap), so recovery finds it there before the store does."""
        if not self._launched:
            self._launched = True
            self._messages.put(AttemptLaunched(self.spec.key, pid, start, traced))

    def _fail(self, message: AttemptFinished) -> None:
        self._launch(None, None)
        self._finish(message)

    def _finish(self, message: AttemptFinished) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        if self._result is not None:
            message = self._result.apply(message)
        if self._status is not None:  # kept until the engine has committed the outcome
            message = dataclasses.replace(message, status_file=self._status)
        self._on_done(self.spec.key)
        self._messages.put(message)
        self._done.set()


class CommandRunner:
    """Runs command attempts through one keeper and routes its replies to them."""

    def __init__(
        self, messages: MessageQueue, on_done: Callable[[int], None], fence: float | None = None
    ) -> None:
        self._messages = messages
        self._fence = fence
        self._on_done = on_done
        self._lock = threading.Lock()
        self._attempts: dict[int, CommandAttempt] = {}
        self._keeper = KeeperClient(self._on_reply, self._on_lost)

    def prepare(self, spec: AttemptSpec) -> CommandAttempt:
        """The attempt of ``spec``, ready to start, its replies routed to it."""
        attempt = CommandAttempt(spec, self._messages, self._ended, self._keeper, self._fence)
        with self._lock:
            self._attempts[spec.key] = attempt
        return attempt

    def start(self, attempt: CommandAttempt, environment: Mapping[str, str]) -> None:
        """Start the attempt (see ``CommandAttempt.start``); raises KeeperLostError when no
        keeper can be started or reached."""
        try:
            attempt.start(environment)
        except KeeperLostError:
            self._ended(attempt.spec.key)
            raise

    def close(self) -> None:
        """Hang up on the keeper (it exits once its commands have ended)."""
        self._keeper.close()

    def _ended(self, key: int) -> None:
        with self._lock:
            self._attempts.pop(key, None)
        self._on_done(key)

    def _on_reply(self, reply: Reply) -> None:
        with self._lock:
            attempt = self._attempts.get(reply[1])
        if attempt is None:
            logger.warning("the keeper spoke of an unknown attempt: %r", reply[:2])
            return
        attempt.on_reply(reply)

    def _on_lost(self) -> None:
        with self._lock:
            attempts = list(self._attempts.values())
        for attempt in attempts:
            attempt.on_keeper_lost()


def spawn_failure(key: int, program: str, cwd: str | None, exc: OSError) -> AttemptFinished:
    """The outcome of a command that could not be started: 127 if not found, else 126."""
    if cwd is not None and exc.filename == cwd:
        error = outcome.working_directory_error(cwd, exc)
        return AttemptFinished(key, TaskState.FAILED, exit_code=126, error=error, reason=error)
    if isinstance(exc, FileNotFoundError):
        error = f"command not found: {program!r}"
        return AttemptFinished(key, TaskState.FAILED, exit_code=127, error=error, reason=error)
    error = f"cannot run {program!r}: {exc.strerror or exc}"
    return AttemptFinished(key, TaskState.FAILED, exit_code=126, error=error, reason=error)


def _absolute(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else os.path.abspath(path)


def _folder_made(log: str) -> bool:
    """Make the folder of the log file ``log`` if missing: beside the log, the keeper
    records the command's exit status and the command may leave its result. False when
    it cannot be made (a read-only log volume must not stop the job)."""
    try:
        private_folder(os.path.dirname(log))
    except OSError as exc:
        logger.warning("no exit status or result file beside %s: %s", log, exc)
        return False
    return True
