"""What travels between the engine and a worker: the attempt, as a JSON broker message,
and its outcome, as JSON in the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.engine.executor import AttemptFinished, AttemptSpec
from runner.errors import RunwatchError
from runner.model import Task, TaskState

VERSION = 1
"""Bumped when a field changes meaning; a worker refuses versions it does not know."""


class MessageError(RunwatchError, ValueError):
    """A broker message is not an attempt this runwatch can read."""


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
    stdout_path: str | None
    stderr_path: str | None
    upstream_results: Mapping[str, Any]
    kill_grace: float
    log_cap_bytes: int
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
            env=dict(spec.env),
            stdout_path=None if spec.stdout_path is None else str(spec.stdout_path),
            stderr_path=None if spec.stderr_path is None else str(spec.stderr_path),
            upstream_results=dict(spec.upstream_results),
            kill_grace=spec.kill_grace,
            log_cap_bytes=spec.log_cap_bytes,
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
            "stdout_path": self.stdout_path,
            "stderr_path": self.stderr_path,
            "upstream_results": dict(self.upstream_results),
            "kill_grace": self.kill_grace,
            "log_cap_bytes": self.log_cap_bytes,
            "queue": self.queue,
        }

    @classmethod
    def from_payload(cls, payload: object) -> AttemptMessage:
        """Read a message body; MessageError says what is wrong with it."""
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
                env={str(k): str(v) for k, v in payload["env"].items()},
                stdout_path=payload["stdout_path"],
                stderr_path=payload["stderr_path"],
                upstream_results=dict(payload["upstream_results"]),
                kill_grace=float(payload["kill_grace"]),
                log_cap_bytes=int(payload["log_cap_bytes"]),
                queue=str(payload["queue"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MessageError(f"malformed attempt message: {exc!r}") from None

    def to_spec(self, task: Task) -> AttemptSpec:
        """The spec the local executor runs, with ``task`` from the worker's definitions."""
        return AttemptSpec(
            key=self.attempt_id,
            job=self.job,
            task=task,
            run_id=self.run_id,
            attempt=self.attempt,
            logical_time=self.logical_time,
            env=dict(self.env),
            stdout_path=None if self.stdout_path is None else Path(self.stdout_path),
            stderr_path=None if self.stderr_path is None else Path(self.stderr_path),
            upstream_results=dict(self.upstream_results),
            kill_grace=self.kill_grace,
            log_cap_bytes=self.log_cap_bytes,
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
