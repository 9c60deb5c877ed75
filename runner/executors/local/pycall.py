"""One call of a Python task's callable, told as an outcome; runs in a worker or a thread."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runner.engine.executor import AttemptFinished
from runner.executors.local.capture import ERROR_TAIL_LINES
from runner.model import Skip, TaskState, UpstreamResult

logger = logging.getLogger(__name__)

MAX_RESULT_BYTES = 64 * 1024
"""A task's return value, encoded as JSON, may be at most this long."""


@dataclass(frozen=True)
class CallOutcome:
    """How a call ended; ``result_json`` is the JSON text of a successful call's return value."""

    state: TaskState
    exit_code: int | None = None
    error: str | None = None
    reason: str | None = None
    result_json: str | None = None

    def finished(self, key: int) -> AttemptFinished:
        """As the message the engine reads."""
        result = None if self.result_json is None else json.loads(self.result_json)
        return AttemptFinished(
            key, self.state, self.exit_code, None, self.error, self.reason, result
        )


def resolve_arguments(
    task: str,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
    upstream_results: Mapping[str, Any],
) -> tuple[list[Any], dict[str, Any]]:
    """The arguments with every ``UpstreamResult`` replaced by that upstream task's result."""

    def resolve(value: Any) -> Any:
        if not isinstance(value, UpstreamResult):
            return value
        if value.task not in upstream_results:
            raise LookupError(f"task {task!r}: no result from upstream task {value.task!r}")
        return upstream_results[value.task]

    return [resolve(a) for a in args], {k: resolve(v) for k, v in kwargs}


def call_task(
    task: str,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
    *,
    upstream_results: Mapping[str, Any],
    env: Mapping[str, str],
) -> CallOutcome:
    """Call ``func`` and classify how it ended; never raises. Tracebacks go to ``sys.stderr``."""
    try:
        call_args, call_kwargs = resolve_arguments(task, args, kwargs, upstream_results)
        with trace_context(env):
            value = func(*call_args, **call_kwargs)
    except Skip as exc:
        return CallOutcome(TaskState.SKIPPED, reason=str(exc) or "skipped")
    except SystemExit as exc:
        return _exit_outcome(exc)
    except BaseException as exc:  # user code: anything it raises is the attempt's failure
        tb = exc.__traceback__
        frames = tb.tb_next if tb is not None else None  # from the task's own frame on
        lines = "".join(traceback.format_exception(type(exc), exc, frames)).splitlines()
        _print_stderr("\n".join(lines))
        error = "\n".join(lines[-ERROR_TAIL_LINES:])
        return CallOutcome(TaskState.FAILED, error=error, reason=f"raised {type(exc).__name__}")
    return encode_result(task, value)


def encode_result(task: str, value: Any) -> CallOutcome:
    """Success with the value as JSON, or failure if it is not JSON or too long."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        error = (
            f"task {task!r} returned a {type(value).__name__} that is not JSON-serialisable: {exc}"
        )
        return CallOutcome(TaskState.FAILED, error=error, reason="result not JSON-serialisable")
    size = len(text.encode())
    if size > MAX_RESULT_BYTES:
        error = (
            f"task {task!r} returned a {type(value).__name__} of {size} bytes as JSON;"
            f" at most {MAX_RESULT_BYTES} are allowed"
        )
        return CallOutcome(TaskState.FAILED, error=error, reason="result too large")
    return CallOutcome(TaskState.SUCCESS, result_json=text)


@contextlib.contextmanager
def trace_context(env: Mapping[str, str]) -> Iterator[None]:
    """Run inside the trace context of ``TRACEPARENT`` when OpenTelemetry is installed."""
    if "TRACEPARENT" not in env:
        yield
        return
    try:
        from opentelemetry import context, propagate  # optional, and slow to import
    except ImportError:
        yield
        return
    carrier = {"traceparent": env["TRACEPARENT"]}
    if "TRACESTATE" in env:
        carrier["tracestate"] = env["TRACESTATE"]
    token = context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Add ``env`` to this process's environment for the duration; restore it after."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _exit_outcome(exc: SystemExit) -> CallOutcome:
    code = exc.code
    if code is None or code == 0:
        return CallOutcome(TaskState.SUCCESS, exit_code=0, result_json="null")
    if isinstance(code, int):
        return CallOutcome(TaskState.FAILED, exit_code=code, reason=f"exit code {code}")
    message = str(code)  # sys.exit("message") prints it and exits 1, as the interpreter does
    _print_stderr(message)
    return CallOutcome(TaskState.FAILED, exit_code=1, error=message, reason="exit code 1")


def _print_stderr(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError) as exc:
        logger.debug("cannot write to stderr: %s", exc)
