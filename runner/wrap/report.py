"""What a wrapped run did, as plain values: the unit that is recorded, spooled and pinged.

A report describes a whole run (the job's declared expectations, the run, its attempts)
at some point of its life. Recording it brings the store in line with it, whatever the
store already holds, so the same report can be recorded again — at each step of the
run, from the spool after an outage, from a ping — and is never counted twice.
Times are UNIX epoch seconds; JSON in and out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from runner.dataset_names import Dataset

# The states of runner.model, spelled out: importing the model costs ~20 ms.
RUNNING = "running"
SUCCESS = "success"
FAILED = "failed"
TIMED_OUT = "timed_out"
CANCELLED = "cancelled"
ATTEMPT_ENDS = (SUCCESS, FAILED, TIMED_OUT, CANCELLED)
RUN_ENDS = (SUCCESS, FAILED, CANCELLED)
TRIGGER = "wrap"

JsonObject = dict[str, object]


def new_report_id() -> str:
    """A unique, time-ordered id: spool files sort by it."""
    return f"{time.time_ns():020d}-{os.urandom(6).hex()}"


class JobSpec:
    """The job as ``wrap`` declares it: its schedule and what the schedule promises."""

    FIELDS = (
        "name",
        "schedule",
        "timezone",
        "grace",
        "expected_duration",
        "timeout",
        "owner",
        "tags",
        "inputs",
        "outputs",
    )

    def __init__(
        self,
        name: str,
        *,
        schedule: str | None = None,
        timezone: str = "UTC",
        grace: float | None = None,
        expected_duration: float | None = None,
        timeout: float | None = None,
        owner: str | None = None,
        tags: tuple[str, ...] = (),
        inputs: tuple[Dataset, ...] = (),
        outputs: tuple[Dataset, ...] = (),
    ) -> None:
        self.name = name
        self.schedule = schedule
        self.timezone = timezone
        self.grace = grace
        self.expected_duration = expected_duration
        self.timeout = timeout
        self.owner = owner
        self.tags = tags
        self.inputs = inputs
        self.outputs = outputs

    def to_json(self) -> JsonObject:
        """The spec as JSON values."""
        data: JsonObject = {f: getattr(self, f) for f in self.FIELDS}
        data["tags"] = list(self.tags)
        data["inputs"] = [[d.namespace, d.name] for d in self.inputs]
        data["outputs"] = [[d.namespace, d.name] for d in self.outputs]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> JobSpec:
        """Read back ``to_json``; ValueError names a field of the wrong type."""
        return cls(
            _text(data, "name"),
            schedule=_optional_text(data, "schedule"),
            timezone=_optional_text(data, "timezone") or "UTC",
            grace=_optional_number(data, "grace"),
            expected_duration=_optional_number(data, "expected_duration"),
            timeout=_optional_number(data, "timeout"),
            owner=_optional_text(data, "owner"),
            tags=tuple(_text_list(data, "tags")),
            inputs=_datasets(data, "inputs"),
            outputs=_datasets(data, "outputs"),
        )


class AttemptReport:
    """One try of the wrapped command; ``state`` is ``running`` until it ends."""

    FIELDS = (
        "number",
        "started_at",
        "finished_at",
        "state",
        "exit_code",
        "signal",
        "error",
        "reason",
        "will_retry",
        "pid",
        "pid_start",
        "stdout_path",
        "stderr_path",
    )

    def __init__(self, number: int, started_at: float) -> None:
        self.number = number
        self.started_at = started_at
        self.finished_at: float | None = None
        self.state = RUNNING
        self.exit_code: int | None = None
        self.signal: int | None = None
        self.error: str | None = None
        self.reason: str | None = None
        self.will_retry = False
        self.pid: int | None = None
        self.pid_start: str | None = None
        self.stdout_path: str | None = None
        self.stderr_path: str | None = None

    def finish(
        self,
        state: str,
        at: float,
        *,
        exit_code: int | None = None,
        signal: int | None = None,
        error: str | None = None,
        reason: str | None = None,
        will_retry: bool = False,
    ) -> None:
        """Record how the attempt ended."""
        if state not in ATTEMPT_ENDS:
            raise ValueError(f"an attempt cannot end as {state!r}")
        self.state, self.finished_at = state, max(at, self.started_at)
        self.exit_code, self.signal, self.error, self.reason = exit_code, signal, error, reason
        self.will_retry = will_retry

    def to_json(self) -> JsonObject:
        """The attempt as JSON values."""
        return {f: getattr(self, f) for f in self.FIELDS}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> AttemptReport:
        """Read back ``to_json``; ValueError names a field of the wrong type."""
        attempt = cls(_whole(data, "number", minimum=1), _number(data, "started_at"))
        attempt.finished_at = _optional_number(data, "finished_at")
        attempt.state = _text(data, "state")
        if attempt.state not in (RUNNING, *ATTEMPT_ENDS):
            raise ValueError(f"state: {attempt.state!r} is not an attempt state")
        if attempt.state != RUNNING and attempt.finished_at is None:
            raise ValueError("finished_at: required once the attempt has ended")
        attempt.exit_code = _optional_whole(data, "exit_code")
        attempt.signal = _optional_whole(data, "signal")
        attempt.error = _optional_text(data, "error")
        attempt.reason = _optional_text(data, "reason")
        attempt.will_retry = data.get("will_retry") is True
        attempt.pid = _optional_whole(data, "pid")
        attempt.pid_start = _optional_text(data, "pid_start")
        attempt.stdout_path = _optional_text(data, "stdout_path")
        attempt.stderr_path = _optional_text(data, "stderr_path")
        return attempt


class RunReport:
    """One wrapped run of a job: unique per (job, logical time), like every run."""

    def __init__(
        self,
        report_id: str,
        job: JobSpec,
        logical_time: float,
        *,
        supervisor: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        self.id = report_id
        self.job = job
        self.logical_time = logical_time
        self.started_at = logical_time
        self.supervisor = supervisor
        self.trace_id = trace_id
        self.attempts: list[AttemptReport] = []
        self.state = RUNNING
        self.finished_at: float | None = None
        self.reason: str | None = None

    @property
    def task(self) -> str:
        """The job's one task, named after the job as in a one-task job file."""
        return self.job.name

    def start_attempt(self, at: float) -> AttemptReport:
        """Add the next attempt, running from ``at``."""
        attempt = AttemptReport(len(self.attempts) + 1, at)
        self.attempts.append(attempt)
        return attempt

    def finish(self, state: str, at: float, reason: str | None = None) -> None:
        """Record how the run ended."""
        if state not in RUN_ENDS:
            raise ValueError(f"a run cannot end as {state!r}")
        self.state, self.finished_at, self.reason = state, max(at, self.started_at), reason

    def to_json(self) -> JsonObject:
        """The report as JSON values (``kind: run``)."""
        return {
            "kind": "run",
            "id": self.id,
            "job": self.job.to_json(),
            "logical_time": self.logical_time,
            "started_at": self.started_at,
            "supervisor": self.supervisor,
            "trace_id": self.trace_id,
            "state": self.state,
            "finished_at": self.finished_at,
            "reason": self.reason,
            "attempts": [a.to_json() for a in self.attempts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RunReport:
        """Read back ``to_json``; ValueError names a field of the wrong type."""
        job = data.get("job")
        if not isinstance(job, Mapping):
            raise ValueError("job: expected an object")
        report = cls(
            _text(data, "id"),
            JobSpec.from_json(job),
            _number(data, "logical_time"),
            supervisor=_optional_text(data, "supervisor"),
            trace_id=_optional_text(data, "trace_id"),
        )
        report.started_at = _number(data, "started_at")
        report.state = _text(data, "state")
        if report.state not in (RUNNING, *RUN_ENDS):
            raise ValueError(f"state: {report.state!r} is not a run state")
        report.finished_at = _optional_number(data, "finished_at")
        if report.state != RUNNING and report.finished_at is None:
            raise ValueError("finished_at: required once the run has ended")
        report.reason = _optional_text(data, "reason")
        attempts = data.get("attempts", [])
        if not isinstance(attempts, list):
            raise ValueError("attempts: expected a list")
        for index, item in enumerate(attempts):
            if not isinstance(item, Mapping):
                raise ValueError(f"attempts[{index}]: expected an object")
            try:
                report.attempts.append(AttemptReport.from_json(item))
            except ValueError as exc:
                raise ValueError(f"attempts[{index}].{exc}") from None
        return report


class SkipReport:
    """A start that ``--overlap skip`` turned away because the previous run still runs."""

    def __init__(self, report_id: str, job: JobSpec, at: float, reason: str) -> None:
        self.id = report_id
        self.job = job
        self.at = at
        self.reason = reason

    def to_json(self) -> JsonObject:
        """The report as JSON values (``kind: skip``)."""
        return {
            "kind": "skip",
            "id": self.id,
            "job": self.job.to_json(),
            "at": self.at,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> SkipReport:
        """Read back ``to_json``."""
        job = data.get("job")
        if not isinstance(job, Mapping):
            raise ValueError("job: expected an object")
        return cls(
            _text(data, "id"), JobSpec.from_json(job), _number(data, "at"), _text(data, "reason")
        )


Report = RunReport | SkipReport


def report_from_json(data: object) -> Report:
    """A run or skip report from its JSON; ValueError says what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError("expected a JSON object")
    kind = data.get("kind")
    if kind == "run":
        return RunReport.from_json(data)
    if kind == "skip":
        return SkipReport.from_json(data)
    raise ValueError(f"kind: expected 'run' or 'skip', got {kind!r}")


# -- field readers: a message names the field --------------------------------------------


def _number(data: Mapping[str, object], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    return float(value)


def _optional_number(data: Mapping[str, object], key: str) -> float | None:
    return None if data.get(key) is None else _number(data, key)


def _whole(data: Mapping[str, object], key: str, minimum: int = 0) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key}: expected a whole number >= {minimum}, got {value!r}")
    return value


def _optional_whole(data: Mapping[str, object], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: expected a whole number, got {value!r}")
    return value


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: expected a string, got {value!r}")
    return value


def _optional_text(data: Mapping[str, object], key: str) -> str | None:
    return None if data.get(key) is None else _text(data, key)


def _text_list(data: Mapping[str, object], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key}: expected a list of strings, got {value!r}")
    return list(value)


def _datasets(data: Mapping[str, object], key: str) -> tuple[Dataset, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(v, list) and len(v) == 2 and all(isinstance(p, str) for p in v) for v in value
    ):
        raise ValueError(f"{key}: expected a list of [namespace, name] pairs, got {value!r}")
    return tuple(Dataset(namespace, name) for namespace, name in value)
