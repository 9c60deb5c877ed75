"""A command task's JSON results: the file named by ``RUNWATCH_RESULT``, one per attempt,
that it may write its result to, and the one named by ``RUNWATCH_UPSTREAM_RESULTS``
holding its upstream tasks' results (``{task: result}``, JSON) when they have any.

The paths are beside the attempt's logs (``<task>.<n>.result``, ``.upstream``), or in a
private temporary folder when the attempt has no logs. runwatch removes any result file
left there before the command starts and reads it once the command exits 0: no file is
no result; a file that is not JSON, or is longer than a Python task's result may be,
fails the attempt. Both files are removed when the attempt ends.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os

from runner.engine.executor import AttemptFinished, AttemptSpec
from runner.executors.local.pycall import MAX_RESULT_BYTES
from runner.model import TaskState

logger = logging.getLogger(__name__)

RESULT_VARIABLE = "RUNWATCH_RESULT"
"""The environment variable that names the file a command writes its result to."""
UPSTREAM_VARIABLE = "RUNWATCH_UPSTREAM_RESULTS"
"""The environment variable that names the file of the upstream tasks' results."""

_SUFFIX = ".result"
_UPSTREAM_SUFFIX = ".upstream"
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class ResultFile:
    """Where one command attempt may write its result, and reading it back."""

    def __init__(self, spec: AttemptSpec, beside: str | None) -> None:
        """``beside``: the attempt's stdout log, absolute, its folder made; None without logs
        (or when their folder could not be made): then a private temporary folder."""
        self._task = spec.task.name
        self._upstream = {k: v for k, v in spec.upstream_results.items() if v is not None}
        self._temporary: str | None = None
        self._absent = False  # known not to be there: nothing to remove
        if beside is not None:
            self.path = os.path.splitext(beside)[0] + _SUFFIX
            _remove(self.path)
            return
        import tempfile  # only attempts without logs need it; kept off the run path

        self._temporary = tempfile.mkdtemp(prefix="runwatch-result-")
        self.path = os.path.join(self._temporary, "result.json")

    @property
    def upstream_path(self) -> str:
        """Where the upstream tasks' results are written for the command."""
        return os.path.splitext(self.path)[0] + _UPSTREAM_SUFFIX

    def environment(self) -> dict[str, str]:
        """The variables to add to the command's environment; writes the upstream file."""
        env = {RESULT_VARIABLE: self.path}
        if self._upstream:
            fd = os.open(self.upstream_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(self._upstream, out)
            env[UPSTREAM_VARIABLE] = self.upstream_path
        return env

    def apply(self, finished: AttemptFinished) -> AttemptFinished:
        """The outcome with the result read in: a successful attempt with a valid result
        file gets it, one with an invalid file fails; the file is removed either way."""
        try:
            if finished.state is not TaskState.SUCCESS:
                return finished
            problem, value = self._read()
            if problem is None:
                return dataclasses.replace(finished, result=value)
            return dataclasses.replace(
                finished, state=TaskState.FAILED, error=problem[1], reason=problem[0]
            )
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the file (and the temporary folder, if one was made)."""
        if self._temporary is not None:
            import shutil

            shutil.rmtree(self._temporary, ignore_errors=True)
        else:
            if not self._absent:
                _remove(self.path)
            if self._upstream:
                _remove(self.upstream_path)

    def _read(self) -> tuple[tuple[str, str] | None, object]:
        """(reason, error) of an invalid file, or None and the value (None: no file)."""
        try:
            fd = os.open(self.path, _READ_FLAGS)
        except FileNotFoundError:
            self._absent = True
            return None, None
        except OSError as exc:
            return ("result file unreadable", f"cannot read {RESULT_VARIABLE} file: {exc}"), None
        try:
            data = os.read(fd, MAX_RESULT_BYTES + 1)
            more = len(data) > MAX_RESULT_BYTES
        finally:
            os.close(fd)
        if more:
            error = (
                f"task {self._task!r} wrote more than {MAX_RESULT_BYTES} bytes to its"
                f" {RESULT_VARIABLE} file; at most {MAX_RESULT_BYTES} are allowed"
            )
            return ("result too large", error), None
        if not data.strip():
            return None, None
        try:
            return None, json.loads(data, parse_constant=_no_constant)
        except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
            error = f"task {self._task!r} wrote a {RESULT_VARIABLE} file that is not JSON: {exc}"
            return ("result not JSON", error), None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("cannot remove the result file %s: %s", path, exc)
