"""The facts every receiver shows about an alert, so a page is actionable wherever it
lands: what happened (exit code or signal), how long it took against the usual, where
(host), which attempt of how many, whose it is, the error tail, and links to the run's
dashboard page, its trace and the runbook. A resolved alert says it recovered, with the
recovering run and how long it was down.

Each fact is looked up in the alert's details, then its annotations, then its labels,
so it is found wherever the alert engine keeps it.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any

from alerting.notification import NotifiedAlert, NotifiedStatus
from runner.durations import format_duration


@dataclass(frozen=True)
class Page:
    """The facts of one alert, as plain values (None when not known)."""

    headline: str
    job: str | None
    task: str | None
    run_id: str | None
    owner: str | None
    outcome: str | None
    duration_seconds: float | None
    usual_seconds: float | None
    host: str | None
    attempt: int | None
    attempts: int | None
    error: str | None
    run_url: str | None
    trace_url: str | None
    runbook_url: str | None
    recovered_by_run: str | None = None
    down_seconds: float | None = None

    @property
    def duration(self) -> str | None:
        """``4m 3s (usual 1m)``."""
        if self.duration_seconds is None:
            return None
        text = format_duration(self.duration_seconds)
        if self.usual_seconds is not None:
            text += f" (usual {format_duration(self.usual_seconds)})"
        return text

    @property
    def attempt_text(self) -> str | None:
        """``2 of 3``."""
        if self.attempt is None:
            return None
        return f"{self.attempt} of {self.attempts}" if self.attempts else str(self.attempt)

    @property
    def links(self) -> list[tuple[str, str]]:
        """(text, URL) of the run's page, its trace and the runbook, those that exist."""
        found = [("Run", self.run_url), ("Trace", self.trace_url), ("Runbook", self.runbook_url)]
        return [(text, url) for text, url in found if url]

    def facts(self) -> list[tuple[str, str]]:
        """(name, value) of the short facts, in the order a page shows them."""
        found = [
            ("Job", self.job),
            ("Task", self.task if self.task != self.job else None),
            ("Run", self.run_id),
            ("Outcome", self.outcome),
            ("Duration", self.duration),
            ("Host", self.host),
            ("Attempt", self.attempt_text),
            ("Owner", self.owner),
        ]
        return [(name, value) for name, value in found if value]

    def to_json(self) -> dict[str, Any]:
        """The facts as JSON values (webhook bodies, PagerDuty custom details)."""
        data: dict[str, Any] = {
            "headline": self.headline,
            "outcome": self.outcome,
            "duration_seconds": self.duration_seconds,
            "usual_seconds": self.usual_seconds,
            "host": self.host,
            "attempt": self.attempt,
            "attempts": self.attempts,
            "owner": self.owner,
            "error_tail": self.error,
            "run_url": self.run_url,
            "trace_url": self.trace_url,
            "runbook_url": self.runbook_url,
            "recovered_by_run": self.recovered_by_run,
            "down_seconds": self.down_seconds,
        }
        return {k: v for k, v in data.items() if v is not None}


def page_of(alert: NotifiedAlert) -> Page:
    """The facts of ``alert``."""

    def get(key: str) -> Any:
        for source in (alert.details, alert.annotations, alert.labels):
            value = source.get(key)
            if value not in (None, ""):
                return value
        return None

    job, task = get("job"), get("task")
    resolved = alert.status is NotifiedStatus.RESOLVED
    down = None
    if resolved and alert.ends_at is not None:
        down = max((alert.ends_at - alert.starts_at).total_seconds(), 0.0)
    recovered_by = _text(get("recovered_by_run")) if resolved else None
    return Page(
        headline=(
            _recovered(job, alert.labels.get("task"), recovered_by, down)
            if resolved
            else alert.summary
        ),
        job=_text(job),
        task=_text(task),
        run_id=_text(get("run_id")),
        owner=_text(get("owner")),
        outcome=_outcome(get),
        duration_seconds=_number(get("duration_seconds")),
        usual_seconds=_number(get("usual_seconds")),
        host=_text(get("host")),
        attempt=_whole(get("attempt")),
        attempts=_whole(get("attempts")),
        error=None if resolved else _text(get("error")),
        run_url=_text(get("run_url")),
        trace_url=_text(get("trace_url")),
        runbook_url=_text(get("runbook_url")),
        recovered_by_run=recovered_by,
        down_seconds=down,
    )


def _recovered(job: object, task: object, run: str | None, down: float | None) -> str:
    """``job backup recovered (run 7, down 2h 5m)``."""
    what = f"task {task} of job {job}" if task and task != job else f"job {job}"
    details = [f"run {run}"] if run else []
    if down is not None:
        details.append(f"down {format_duration(down)}")
    return f"{what} recovered" + (f" ({', '.join(details)})" if details else "")


def _outcome(get: Any) -> str | None:
    """``exit code 3``, ``killed by signal 9 (SIGKILL)`` or ``timed out``."""
    if get("timed_out") is True or get("timed_out") == "True":
        return "timed out"
    code, number = _whole(get("exit_code")), _whole(get("signal"))
    if number is not None:
        try:
            return f"killed by signal {number} ({signal.Signals(number).name})"
        except ValueError:
            return f"killed by signal {number}"
    if code is not None:
        return f"exit code {code}"
    return _text(get("reason"))


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def _number(value: object) -> float | None:
    try:
        return None if value is None else float(str(value))
    except ValueError:
        return None


def _whole(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        return None
