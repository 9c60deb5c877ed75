"""What travels between the engine and a worker: the attempt, as a JSON broker message,
and its outcome, as JSON in the store.

Whoever can write to the broker can write a message, so a message names *which* attempt
to run and nothing of *how*: the worker reads the attempt, its run (number, logical
time, parameters) and the upstream results from the store, and takes the command, its
environment, the kill grace and the log files from its own job definitions and home.
From the message it takes only the trace context (``TRACEPARENT``, ``TRACESTATE``), and
it refuses a message whose definition digest differs from its own task's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.engine import mapping
from runner.engine.engine import attempt_env
from runner.engine.executor import AttemptFinished, AttemptSpec
from runner.errors import RunwatchError
from runner.model import Job, Task, TaskState
from runner.store.attempts import attempt_log_paths
from runner.store.records import AttemptRecord, RunRecord

VERSION = 2
"""Bumped when a field changes meaning; a worker refuses versions it does not know."""

_TRACE = {
    "TRACEPARENT": re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"),
    "TRACESTATE": re.compile(r"[ -~]{0,512}"),
}


class MessageError(RunwatchError, ValueError):
    """A broker message is not an attempt this runwatch can read."""


def task_digest(task: Task) -> str:
    """A digest of what a task runs: its command or callable, arguments, working folder
    and the names of its variables (not their values, which may be secrets)."""
    python = None if task.python is None else f"{task.python.__module__}:{task.python.__qualname__}"
    described = {
        "command": task.command,
        "python": python,
        "args": task.args,
        "kwargs": task.kwargs,
        "cwd": task.cwd,
        "env": sorted(task.env),
        "in_process": task.in_process,
        "skip_exit_code": task.skip_exit_code,
        "timeout": task.timeout,
    }
    text = json.dumps(described, sort_keys=True, default=lambda o: type(o).__qualname__)
    return hashlib.sha256(text.encode()).hexdigest()


def trace_context(env: Mapping[str, str]) -> dict[str, str]:
    """The well-formed W3C trace context variables of ``env``; nothing else."""
    return {
        name: value
        for name, value in env.items()
        if name in _TRACE and _TRACE[name].fullmatch(value)
    }


@dataclass(frozen=True)
class AttemptMessage:
    """One attempt for a worker: it looks the rest up in the store and its definitions."""

    job: str
    task: str
    attempt_id: int
    digest: str
    trace: Mapping[str, str]
    queue: str

    @classmethod
    def from_spec(cls, spec: AttemptSpec, queue: str) -> AttemptMessage:
        """The message for an attempt the engine submitted."""
        return cls(
            job=spec.job,
            task=spec.task.name,
            attempt_id=spec.key,
            digest=task_digest(spec.task),
            trace=trace_context(spec.env),
            queue=queue,
        )

    def to_payload(self) -> dict[str, Any]:
        """The JSON-able body of the Celery task."""
        return {
            "v": VERSION,
            "job": self.job,
            "task": self.task,
            "attempt_id": self.attempt_id,
            "digest": self.digest,
            "trace": dict(self.trace),
            "queue": self.queue,
        }

    @classmethod
    def from_payload(cls, payload: object) -> AttemptMessage:
        """Read a message body; MessageError says what is wrong with it. Unknown keys
        (an ``env``, log paths …) are ignored, as are variables other than the trace's."""
        if not isinstance(payload, Mapping):
            raise MessageError(f"expected a mapping, got {type(payload).__name__}")
        if payload.get("v") != VERSION:
            raise MessageError(
                f"message version {payload.get('v')!r}; this runwatch reads {VERSION}"
            )
        try:
            return cls(
                job=str(payload["job"]),
                task=str(payload["task"]),
                attempt_id=int(payload["attempt_id"]),
                digest=str(payload["digest"]),
                trace=trace_context({str(k): str(v) for k, v in payload["trace"].items()}),
                queue=str(payload["queue"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MessageError(f"malformed attempt message: {exc!r}") from None

    def to_spec(self, job: Job, task: Task, source: AttemptSource) -> AttemptSpec:
        """The spec the local executor runs: ``job`` and ``task`` from the worker's own
        definitions, the attempt's facts from the store, log files under its own home."""
        attempt, run = source.attempt, source.run
        env = attempt_env(job, run, task.name, attempt.number)
        index = mapping.index_of(attempt.task)
        instance = None
        if index is not None:  # an instance of a mapped task: its element, as the engine's
            params = {**job.params, **run.params}
            instance = (index, mapping.items_of(task, source.results, params)[index])
        env.update(mapping.instance_env(instance))
        env.update(task.env)
        env.update(self.trace)
        stdout, stderr = attempt_log_paths(
            source.log_dir, job.name, run.id, attempt.task, attempt.number
        )
        return AttemptSpec(
            key=attempt.id,
            job=job.name,
            task=task,
            run_id=run.id,
            attempt=attempt.number,
            logical_time=run.logical_time,
            env=env,
            stdout_path=stdout,
            stderr_path=stderr,
            upstream_results=mapping.upstream_results(task, source.results, instance),
            kill_grace=job.kill_grace,
            log_cap_bytes=source.log_cap_bytes,
        )


@dataclass(frozen=True)
class AttemptSource:
    """What a worker knows of an attempt besides the message: the store's records of it
    and its run, its upstream results, and the worker's own logs folder and cap."""

    attempt: AttemptRecord
    run: RunRecord
    results: Mapping[str, Any]
    log_dir: Path
    log_cap_bytes: int


def outcome_payload(finished: AttemptFinished) -> dict[str, Any]:
    """An attempt's outcome as stored in ``attempts.outcome``."""
    payload: dict[str, Any] = {"state": finished.state.value}
    for name in ("exit_code", "signal", "error", "reason", "result"):
        value = getattr(finished, name)
        if value is not None:
            payload[name] = value
    return payload


def finished_from_outcome(key: int, payload: Mapping[str, Any]) -> AttemptFinished:
    """The engine's message for a stored outcome."""
    return AttemptFinished(
        key,
        TaskState(payload["state"]),
        exit_code=payload.get("exit_code"),
        signal=payload.get("signal"),
        error=payload.get("error"),
        reason=payload.get("reason"),
        result=payload.get("result"),
    )
