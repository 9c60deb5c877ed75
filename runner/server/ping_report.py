"""Reports from the network, rebuilt on the server from an allow-list of fields.

A report sent by `runwatch wrap --server` is not recorded as sent: the server builds a
new one from the run's state, exit code, signal, times, output tail (capped), reason
and idempotency id. It never takes a pid, a supervisor, a log path or (unless it is a
well-formed W3C trace id) a trace id from the client — those steer serve's own process
and file operations. Times must be real numbers near now: a logical time outside the
window is refused (clamping it would make a resent report a second run), every other
time is clamped into it. The full report format stays for the local spool only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from runner.wrap.report import (
    ATTEMPT_ENDS,
    RUN_ENDS,
    RUNNING,
    AttemptReport,
    JobSpec,
    Report,
    RunReport,
    SkipReport,
)

MAX_AGE_SECONDS = 35 * 24 * 3600.0
"""How old a run may be when it is reported (a host's spool replayed after an outage)."""
MAX_AHEAD_SECONDS = 300.0
"""How far ahead of the server's clock a client's may be."""
MAX_DURATION_SECONDS = 366 * 24 * 3600.0
OUTPUT_TAIL_CHARS = 4096
REASON_CHARS = 500
TEXT_CHARS = 200
MAX_TAGS = 20
MAX_ATTEMPTS = 100
MAX_JOB_NAME_CHARS = 128
_REPORT_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_JOB_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_LATEST_EPOCH = datetime(9999, 12, 31, tzinfo=UTC).timestamp()


class PingError(Exception):
    """A ping the API refuses: ``status`` and a message naming the field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_job_name(job: str) -> None:
    """PingError unless ``job`` is a job name a ping may use."""
    if not _JOB_NAME.fullmatch(job) or set(job) == {"."}:
        raise PingError(400, f"job {job[:60]!r}: a job name is letters, digits, '_', '.' or '-'")
    if len(job) > MAX_JOB_NAME_CHARS:
        raise PingError(400, f"job: a job name has at most {MAX_JOB_NAME_CHARS} characters")


class Window:
    """The times a report may carry, around the server's ``now`` (epoch seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.earliest = now - MAX_AGE_SECONDS
        self.latest = now + MAX_AHEAD_SECONDS

    def logical(self, field: str, moment: float) -> float:
        """A logical time, refused outside the window."""
        if not self.earliest <= moment <= self.latest:
            raise PingError(
                400,
                f"{field}: {_iso(moment)} is not within {MAX_AGE_SECONDS / 86400:.0f} days "
                f"before and {MAX_AHEAD_SECONDS:.0f} s after the server's time {_iso(self.now)}",
            )
        return moment

    def clamp(self, moment: float, earliest: float | None = None) -> float:
        """``moment`` moved into the window (and not before ``earliest``)."""
        low = self.earliest if earliest is None else max(self.earliest, earliest)
        return min(max(moment, low), self.latest)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


class Fields:
    """Reads fields of a JSON object; every refusal names the field with its path."""

    def __init__(self, data: object, path: str = "") -> None:
        if not isinstance(data, Mapping):
            where = path.rstrip(".") or "body"
            raise PingError(400, f"{where}: expected a JSON object, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def fail(self, key: str, problem: str) -> PingError:
        """A 400 naming ``key``."""
        return PingError(400, f"{self.path}{key}: {problem}")

    def child(self, key: str) -> Fields:
        """The object under ``key``."""
        return Fields(self.data.get(key), f"{self.path}{key}.")

    def time(self, key: str) -> float | None:
        """ISO 8601 or epoch seconds; a finite time a calendar can show."""
        value = self.data.get(key)
        if value is None:
            return None
        moment: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = float(value)
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
            except (ValueError, OverflowError):
                moment = None
        if moment is None or not math.isfinite(moment) or not 0 <= moment <= _LATEST_EPOCH:
            raise self.fail(key, f"expected an ISO 8601 time or epoch seconds, got {value!r:.60}")
        return moment

    def whole(self, key: str, maximum: int) -> int | None:
        """A whole number from 0 to ``maximum``."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            raise self.fail(key, f"expected a whole number from 0 to {maximum}, got {value!r:.60}")
        return value

    def seconds(self, key: str) -> float | None:
        """A finite number of seconds from 0 to a year."""
        value = self.data.get(key)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= MAX_DURATION_SECONDS
        ):
            raise self.fail(
                key,
                f"expected a number of seconds from 0 to {MAX_DURATION_SECONDS:.0f}, "
                f"got {value!r:.60}",
            )
        return float(value)

    def text(self, key: str, limit: int, *, tail: bool = False) -> str | None:
        """A string, cut to ``limit`` characters (its end when ``tail``)."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {type(value).__name__}")
        return value[-limit:] if tail else value[:limit]

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        """One of ``allowed``."""
        value = self.data.get(key)
        if value not in allowed:
            raise self.fail(key, f"expected one of {', '.join(allowed)}, got {value!r:.60}")
        assert isinstance(value, str)
        return value


def sent_spec(fields: Fields, job: str) -> JobSpec:
    """The job as the client declares it, each value checked (schedule and timezone too)."""
    from runner.errors import InvalidScheduleError
    from runner.scheduling.schedule import validate_schedule, validate_timezone

    if fields.data.get("name") != job:
        raise fields.fail("name", f"{str(fields.data.get('name'))[:60]!r} is not the job {job!r}")
    schedule = fields.text("schedule", TEXT_CHARS)
    timezone = fields.text("timezone", 64) or "UTC"
    try:
        if schedule is not None:
            validate_schedule(schedule)
    except InvalidScheduleError as exc:
        raise fields.fail("schedule", str(exc)) from None
    try:
        validate_timezone(timezone)
    except InvalidScheduleError as exc:
        raise fields.fail("timezone", str(exc)) from None
    tags = fields.data.get("tags") or []
    if (
        not isinstance(tags, list)
        or len(tags) > MAX_TAGS
        or not all(isinstance(t, str) and 0 < len(t) <= TEXT_CHARS for t in tags)
    ):
        raise fields.fail("tags", f"expected at most {MAX_TAGS} strings of 1-{TEXT_CHARS} chars")
    return JobSpec(
        job,
        schedule=schedule,
        timezone=timezone,
        grace=fields.seconds("grace"),
        expected_duration=fields.seconds("expected_duration"),
        timeout=fields.seconds("timeout"),
        owner=fields.text("owner", TEXT_CHARS),
        tags=tuple(tags),
    )


def _report_id(fields: Fields) -> str:
    value = fields.data.get("id")
    if not isinstance(value, str) or not _REPORT_ID.fullmatch(value):
        raise fields.fail("id", "expected an id of 1-64 letters, digits, '_' or '-'")
    return value


def _trace_id(value: object) -> str | None:
    """A W3C trace id the client may name, or None (anything else is dropped)."""
    if isinstance(value, str) and _TRACE_ID.fullmatch(value) and value != "0" * 32:
        return value
    return None


def sent_report(data: object, job: str, window: Window, spec: JobSpec | None = None) -> Report:
    """The report ``runwatch wrap --server`` sent, rebuilt from its allowed fields.

    ``spec`` replaces the job the client declares (for jobs defined in job files).
    """
    fields = Fields(data, "report.")
    kind = fields.choice("kind", ("run", "skip"))
    report_id = _report_id(fields)
    declared = sent_spec(fields.child("job"), job)
    job_spec = declared if spec is None else spec
    if kind == "skip":
        at = window.logical("report.at", _required(fields, fields.time("at"), "at"))
        reason = fields.text("reason", REASON_CHARS) or "skipped"
        return SkipReport(report_id, job_spec, at, reason)
    logical = window.logical(
        "report.logical_time", _required(fields, fields.time("logical_time"), "logical_time")
    )
    report = RunReport(
        report_id, job_spec, logical, trace_id=_trace_id(fields.data.get("trace_id"))
    )
    report.started_at = window.clamp(fields.time("started_at") or logical, logical)
    attempts = fields.data.get("attempts") or []
    if not isinstance(attempts, list) or len(attempts) > MAX_ATTEMPTS:
        raise fields.fail("attempts", f"expected a list of at most {MAX_ATTEMPTS} attempts")
    for index, item in enumerate(attempts):
        report.attempts.append(_attempt(Fields(item, f"report.attempts[{index}]."), window, report))
    state = fields.choice("state", (RUNNING, *RUN_ENDS))
    if state != RUNNING:
        ended = _required(fields, fields.time("finished_at"), "finished_at")
        report.finish(state, window.clamp(ended, report.started_at),
                      fields.text("reason", REASON_CHARS))  # fmt: skip
    return report


def _attempt(fields: Fields, window: Window, report: RunReport) -> AttemptReport:
    number = _required(fields, fields.whole("number", MAX_ATTEMPTS), "number")
    if number < 1:
        raise fields.fail("number", "expected a whole number from 1")
    started = _required(fields, fields.time("started_at"), "started_at")
    attempt = AttemptReport(number, window.clamp(started, report.logical_time))
    state = fields.choice("state", (RUNNING, *ATTEMPT_ENDS))
    if state == RUNNING:
        return attempt
    ended = _required(fields, fields.time("finished_at"), "finished_at")
    attempt.finish(
        state,
        window.clamp(ended, attempt.started_at),
        exit_code=fields.whole("exit_code", 255),
        signal=fields.whole("signal", 255),
        error=fields.text("error", OUTPUT_TAIL_CHARS, tail=True),
        reason=fields.text("reason", REASON_CHARS),
        will_retry=fields.data.get("will_retry") is True,
    )
    return attempt


def _required(fields: Fields, value: Any, key: str) -> Any:
    if value is None:
        raise fields.fail(key, "required")
    return value
