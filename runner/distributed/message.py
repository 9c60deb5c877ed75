"""What travels between the engine and a worker: the attempt, as a JSON broker message,
and its outcome, as JSON in the store.

Whoever can write to the broker can write a message, so a message names *which* attempt
to run and nothing of *how*: the worker takes the command, its environment, the kill
grace and the log files from its own job definitions and home. From the message it
accepts only the attempt's identity, the run's parameters (``RUNWATCH_PARAM_*``), the
trace context (``TRACEPARENT``, ``TRACESTATE``) and the results of upstream tasks, and it
refuses a message whose definition digest differs from its own task's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.engine.executor import AttemptFinished, AttemptSpec
from runner.errors import RunwatchError
from runner.model import Job, Task, TaskState
from runner.store.attempts import attempt_log_paths

VERSION = 2
"""Bumped when a field changes meaning; a worker refuses versions it does not know."""

_PARAM = re.compile(r"RUNWATCH_PARAM_[A-Z0-9_]+")
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


def accepted_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of a message a worker passes on: run parameters and trace context."""
    return {
        name: value
        for name, value in env.items()
        if (_PARAM.fullmatch(name) and "\0" not in value)
        or (name in _TRACE and _TRACE[name].fullmatch(value))
    }


@dataclass(frozen=True)
class AttemptMessage:
    """One attempt for a worker: it looks the job and task up in its own definitions."""

    job: str
    task: str
    run_id: int
    attempt_id: int
    attempt: int
    logical_time: datetime
    env: Mapping[str, str]
    upstream_results: Mapping[str, Any]
    digest: str
    queue: str

    @classmethod
    def from_spec(cls, spec: AttemptSpec, queue: str) -> AttemptMessage:
        """The message for an attempt the engine submitted."""
        return cls(
            job=spec.job,
            task=spec.task.name,
            run_id=spec.run_id,
            attempt_id=spec.key,
            attempt=spec.attempt,
            logical_time=spec.logical_time,
            env=accepted_env(spec.env),
            upstream_results=dict(spec.upstream_results),
            digest=task_digest(spec.task),
            queue=queue,
        )

    def to_payload(self) -> dict[str, Any]:
        """The JSON-able body of the Celery task."""
        return {
            "v": VERSION,
            "job": self.job,
            "task": self.task,
            "run_id": self.run_id,
            "attempt_id": self.attempt_id,
            "attempt": self.attempt,
            "logical_time": self.logical_time.isoformat(),
            "env": dict(self.env),
            "upstream_results": dict(self.upstream_results),
            "digest": self.digest,
            "queue": self.queue,
        }

    @classmethod
    def from_payload(cls, payload: object) -> AttemptMessage:
        """Read a message body; MessageError says what is wrong with it. Variables other
        than those ``accepted_env`` keeps are dropped; unknown keys are ignored."""
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
                run_id=int(payload["run_id"]),
                attempt_id=int(payload["attempt_id"]),
                attempt=int(payload["attempt"]),
                logical_time=datetime.fromisoformat(payload["logical_time"]),
                env=accepted_env({str(k): str(v) for k, v in payload["env"].items()}),
                upstream_results=dict(payload["upstream_results"]),
                digest=str(payload["digest"]),
                queue=str(payload["queue"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MessageError(f"malformed attempt message: {exc!r}") from None

    def to_spec(self, job: Job, task: Task, *, log_dir: Path, log_cap_bytes: int) -> AttemptSpec:
        """The spec the local executor runs: ``job`` and ``task`` from the worker's own
        definitions, log files under its own ``log_dir``."""
        env = {
            "RUNWATCH_JOB": job.name,
            "RUNWATCH_TASK": task.name,
            "RUNWATCH_RUN_ID": str(self.run_id),
            "RUNWATCH_LOGICAL_TIME": self.logical_time.isoformat(),
            "RUNWATCH_ATTEMPT": str(self.attempt),
        }
        trace = {k: v for k, v in self.env.items() if k in _TRACE}
        env.update({k: v for k, v in self.env.items() if k not in _TRACE})
        env.update(task.env)
        env.update(trace)
        stdout, stderr = attempt_log_paths(log_dir, job.name, self.run_id, task.name, self.attempt)
        return AttemptSpec(
            key=self.attempt_id,
            job=job.name,
            task=task,
            run_id=self.run_id,
            attempt=self.attempt,
            logical_time=self.logical_time,
            env=env,
            stdout_path=stdout,
            stderr_path=stderr,
            upstream_results=dict(self.upstream_results),
            kill_grace=job.kill_grace,
            log_cap_bytes=log_cap_bytes,
        )


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
