"""What a page says about the run behind an alert, read from the store just before it is
sent: the trace, the host, the duration against the usual, the attempts, the error tail
and the link to the run's dashboard page."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alerting.rules import ERROR_TAIL_CHARS
from runner.errors import NotFoundError
from runner.model import RunState
from runner.store.records import RunRecord
from runner.store.store import Store

USUAL_RUNS = 20
"""How many recent successful runs of the job make its usual duration (their median)."""


def run_url(dashboard_url: str | None, run_id: object) -> str | None:
    """The dashboard page of a run (``?run=ID``, as dashboards/routes.py reads it)."""
    if not dashboard_url or run_id in (None, ""):
        return None
    return f"{dashboard_url}/?run={run_id}"


class RunFacts:
    """Reads run facts for alerts; one store read per run and evaluation (``clear``)."""

    def __init__(self, store: Store, *, dashboard_url: str | None = None) -> None:
        self.store = store
        self.dashboard_url = dashboard_url
        self._runs: dict[int, RunRecord | None] = {}
        self._usual: dict[str, float | None] = {}

    def clear(self) -> None:
        """Forget what was read (the store has moved on)."""
        self._runs.clear()
        self._usual.clear()

    def __call__(self, job: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The facts of the alert's run (fields hold its ``run_id``, maybe task and attempt)."""
        run_id = fields.get("run_id")
        if not isinstance(run_id, int):
            return {}
        run = self._run(run_id)
        extra: dict[str, Any] = {"run_url": run_url(self.dashboard_url, run_id)}
        if run is not None:
            extra["trace_id"] = run.trace_id
            extra["host"] = _host(run.supervisor)
            extra["duration_seconds"] = run.duration_seconds
            extra["usual_seconds"] = self._usual_seconds(job, run_id)
        task, attempt = fields.get("task"), fields.get("attempt")
        if task:
            attempts = self.store.attempts(run_id, str(task))
            extra["attempts"] = len(attempts) or None
            for record in reversed(attempts):
                if attempt is None or record.number == attempt:
                    extra["host"] = _host(record.supervisor) or extra.get("host")
                    if not fields.get("error"):
                        extra["error"] = _tail(record.stderr_path) or record.error
                    break
        return {k: v for k, v in extra.items() if v is not None}

    def _run(self, run_id: int) -> RunRecord | None:
        if run_id not in self._runs:  # several alerts of one run ask: one query
            try:
                self._runs[run_id] = self.store.get_run(run_id)
            except NotFoundError:
                self._runs[run_id] = None
        return self._runs[run_id]

    def _usual_seconds(self, job: str, run_id: int) -> float | None:
        """The median duration of the job's recent successful runs (this one excluded)."""
        if job not in self._usual:
            runs = self.store.list_runs(job=job, state=RunState.SUCCESS, limit=USUAL_RUNS + 1)
            durations = [
                r.duration_seconds
                for r in runs
                if r.id != run_id and r.duration_seconds is not None
            ]
            self._usual[job] = statistics.median(durations[:USUAL_RUNS]) if durations else None
        return self._usual[job]


def _host(identity: str | None) -> str | None:
    """The host of a process identity ``host:pid:start`` (runner.processes's format)."""
    parts = identity.rsplit(":", 2) if identity else []
    return parts[0] if len(parts) == 3 and parts[1].isdigit() else None


def _tail(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with Path(path).open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - ERROR_TAIL_CHARS))
            text = handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return None
    return text or None
