"""One attempt of a command task: a subprocess in its own process group, watched by one thread."""

from __future__ import annotations

import errno
import logging
import os
import selectors
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from runner import exitstatus
from runner.engine import outcome
from runner.engine.executor import AttemptFinished, AttemptLaunched, AttemptSpec, MessageQueue
from runner.executors.local.capture import StreamCapture, attempt_captures
from runner.executors.local.keeper import kept
from runner.executors.local.process_group import GroupStop, signal_group
from runner.filemodes import private_folder
from runner.model import TaskState
from runner.processes import process_start

logger = logging.getLogger(__name__)

_READ_BYTES = 65536
_DRAIN_LIMIT_BYTES = 4 * 1024 * 1024
"""After the process exits, read at most this much more of a stream a grandchild still feeds."""


def argv_of(command: tuple[str, ...] | str) -> list[str]:
    """A tuple is the argv itself; a string is run by ``/bin/sh -c``."""
    return ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)


class CommandAttempt:
    """Spawns, captures, supervises and reports one command attempt, on a thread of its own.

    The thread watches stdout, stderr and a pidfd of the process together, so a grandchild
    that keeps the pipes open cannot hang the attempt past the exit of the process itself.
    """

    def __init__(
        self,
        spec: AttemptSpec,
        messages: MessageQueue,
        on_done: Callable[[int], None],
        environment: Mapping[str, str],
    ) -> None:
        self.spec = spec
        self._environment = environment
        """The command's whole environment (runwatch's secrets withheld, spec.env added)."""
        self._messages = messages
        self._on_done = on_done
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stop_request: tuple[TaskState, str] | None = None
        self._stop: GroupStop | None = None
        self._exited = False
        self._finished = False
        self._wake_fd: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._launched = False
        self._done = threading.Event()
        self._status: Path | None = None

    def join(self, timeout: float | None = None) -> None:
        """Wait until ``run`` has returned."""
        self._done.wait(timeout)

    def request_stop(self, state: TaskState, reason: str) -> None:
        """SIGTERM the process group now, SIGKILL after the grace; finish as ``state``.

        Does nothing once the process has exited: its own outcome stands.
        """
        with self._lock:
            if self._finished or self._exited or self._stop_request is not None:
                return
            self._stop_request = (state, reason)
            if self._pid is not None:  # else the thread sees the request before or after spawning
                self._begin_stop(self._pid)

    def _begin_stop(self, pid: int) -> None:
        """With the lock held, once both the pid and a stop request are known."""
        assert self._stop_request is not None
        state, reason = self._stop_request
        self._stop = GroupStop(pid, grace=self.spec.kill_grace, state=state, reason=reason)
        self._stop.begin()
        if self._wake_fd is not None:
            os.eventfd_write(self._wake_fd, 1)

    def run(self) -> None:
        """Spawn, watch and report the attempt; on a thread of its own, as it blocks."""
        try:
            self._attempt()
        except BaseException as exc:  # the engine must hear of every attempt, whatever broke
            logger.exception(
                "attempt %d of task %r failed in runwatch", self.spec.key, self.spec.task.name
            )
            self._kill_unwatched()
            self._launch(None)
            self._finish(outcome.internal_error(self.spec.key, exc))
        finally:
            self._done.set()

    def _kill_unwatched(self) -> None:
        """Unsupervised, the process would run on unseen: kill its group and reap it."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        try:
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()

    def _launch(self, pid: int | None) -> None:
        if not self._launched:
            self._launched = True
            start = None if pid is None else process_start(pid)  # not reaped yet: still ours
            self._messages.put(AttemptLaunched(self.spec.key, pid, start))

    def _attempt(self) -> None:
        spec = self.spec
        with self._lock:
            request = self._stop_request
        if request is not None:
            self._launch(None)
            self._finish(outcome.stopped(spec.key, *request, None))
            return
        out, err = attempt_captures(spec)
        try:
            spawned = self._spawn()
            if isinstance(spawned, AttemptFinished):
                message = spawned
            else:
                message = self._supervise(spawned, out, err)
        finally:
            out.close()
            err.close()
        self._finish(message)  # after the close: the log files are complete when it is read

    def _spawn(self) -> subprocess.Popen[bytes] | AttemptFinished:
        spec = self.spec
        assert spec.task.command is not None
        argv = argv_of(spec.task.command)
        if not argv:
            self._launch(None)
            error = "empty command"
            return AttemptFinished(
                spec.key, TaskState.FAILED, exit_code=127, error=error, reason=error
            )
        try:
            _check_program(argv[0], spec.task.cwd, self._environment)
            proc = subprocess.Popen(
                self._kept(argv),
                stdin=None if spec.passthrough else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=spec.task.cwd,
                env=self._environment,
                start_new_session=True,
                bufsize=0,
            )
        except OSError as exc:
            self._launch(None)
            return spawn_failure(spec.key, argv[0], spec.task.cwd, exc)
        except ValueError as exc:  # a NUL byte in an argument or the environment
            self._launch(None)
            error = f"cannot run {argv[0]!r}: {exc}"
            return AttemptFinished(
                spec.key, TaskState.FAILED, exit_code=126, error=error, reason=error
            )
        self._proc = proc
        self._launch(proc.pid)
        with self._lock:
            self._pid = proc.pid
            self._wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            if self._stop_request is not None:  # stop() came while we were spawning
                self._begin_stop(proc.pid)
        return proc

    def _kept(self, argv: list[str]) -> list[str]:
        """``argv`` under a keeper that records its exit status beside the attempt's logs."""
        if self.spec.stdout_path is None:
            return argv
        status = exitstatus.status_path(self.spec.stdout_path)
        try:
            private_folder(status.parent)
        except OSError as exc:  # a read-only log volume must not stop the job
            logger.warning("no exit status file for %s: %s", status, exc)
            return argv
        self._status = status
        return kept(argv, status)

    def _returncode(self, keeper_returncode: int) -> int:
        """How the command ended: as its keeper recorded, else as the keeper itself ended."""
        if self._status is None:
            return keeper_returncode
        status = exitstatus.read_status(self._status)
        exitstatus.discard(self._status)
        return keeper_returncode if status is None else status.returncode

    def _supervise(
        self, proc: subprocess.Popen[bytes], out: StreamCapture, err: StreamCapture
    ) -> AttemptFinished:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert self._wake_fd is not None
        pidfd = os.pidfd_open(proc.pid)
        try:
            with selectors.PollSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ, out)
                selector.register(proc.stderr, selectors.EVENT_READ, err)
                selector.register(pidfd, selectors.EVENT_READ)
                selector.register(self._wake_fd, selectors.EVENT_READ)
                self._watch(selector, pidfd)
                with self._lock:
                    self._exited = True
                    stop = self._stop
                if stop is not None:
                    stop.kill_if_due()  # before the reap: the leader keeps the group id ours
                returncode = self._returncode(proc.wait())
                for key in list(selector.get_map().values()):
                    if isinstance(key.data, StreamCapture):
                        _drain(key.fd, key.data)
        finally:
            os.close(pidfd)
            _close(proc.stdout, proc.stderr)
            with self._lock:
                wake_fd, self._wake_fd = self._wake_fd, None
            if wake_fd is not None:
                os.close(wake_fd)
        if stop is not None:
            stop.wait_for_group()
            return outcome.stopped(self.spec.key, stop.state, stop.reason, returncode)
        error = err.tail() if returncode != 0 else None
        skip_exit_code = self.spec.task.skip_exit_code
        return outcome.exited(self.spec.key, returncode, skip_exit_code=skip_exit_code, error=error)

    def _watch(self, selector: selectors.BaseSelector, pidfd: int) -> None:
        """Copy output until the process exits, SIGKILLing its group if a stop's grace runs out."""
        while True:
            with self._lock:
                stop = self._stop
            for key, _ in selector.select(None if stop is None else stop.seconds_left()):
                if key.fd == pidfd:
                    return
                if key.fd == self._wake_fd:
                    os.eventfd_read(key.fd)
                    continue
                data = os.read(key.fd, _READ_BYTES)
                if data:
                    key.data.write(data)
                else:
                    selector.unregister(key.fd)
            if stop is not None:
                stop.kill_if_due()

    def _finish(self, message: AttemptFinished) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        self._on_done(self.spec.key)
        self._messages.put(message)


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


def _check_program(program: str, cwd: str | None, env: Mapping[str, str]) -> None:
    """FileNotFoundError, as ``Popen`` raises it, for a program not on PATH: under a keeper
    it would be told by an exit code only."""
    if os.sep in program or (cwd is not None and not os.path.isdir(cwd)):
        return  # Popen reports a missing working directory; the keeper a bad path
    if shutil.which(program, path=os.pathsep.join(os.get_exec_path(env))) is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)


def _drain(fd: int, capture: StreamCapture) -> None:
    """Read what is there without waiting: a grandchild may hold the pipe open forever."""
    os.set_blocking(fd, False)
    total = 0
    while total < _DRAIN_LIMIT_BYTES:
        try:
            data = os.read(fd, _READ_BYTES)
        except BlockingIOError:
            return
        if not data:
            return
        total += len(data)
        capture.write(data)


def _close(*streams: IO[bytes]) -> None:
    for stream in streams:
        stream.close()
