"""The ping API of `runwatch serve`, and the client `runwatch wrap --server` uses.

``POST /api/v1/jobs/{job}/start``, ``/success``, ``/fail`` (and ``/skip``) record runs
the way `runwatch wrap` does, for cron jobs on hosts that cannot reach the database.
A bearer token from ``server.token`` guards them. The body is optional JSON:

- from ``curl``: ``started_at`` (ISO 8601 or epoch seconds), ``exit_code``, ``signal``,
  ``duration_seconds``, ``output`` (the tail of the output) and ``reason``. A finish
  without ``started_at`` ends the job's newest running run (or is a run of its own);
- from ``runwatch wrap --server``: ``{"report": …}``, the wrapped run itself, so a
  report sent again (a retry, a replayed spool) is recorded once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runner.clock import Clock, utcnow
from runner.secret import Secret
from runner.wrap.report import (
    CANCELLED,
    FAILED,
    RUNNING,
    SUCCESS,
    JobSpec,
    Report,
    RunReport,
    SkipReport,
    new_report_id,
    report_from_json,
)

MAX_BODY_BYTES = 64 * 1024
KINDS = ("start", "success", "fail", "skip")
ROUTE = "/api/v1/jobs/{job}/{kind}"
OUTPUT_TAIL_CHARS = 4096
_STATES_OF_KIND = {"start": (RUNNING,), "success": (SUCCESS,), "fail": (FAILED, CANCELLED)}
_JOB_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
DB_TIMEOUT_SECONDS = 5.0

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from runner.http_api import HttpServer, Request, Response
    from runner.wrap.connection import Connection


class PingError(Exception):
    """A ping the API refuses: ``status`` and a message naming the field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- the handlers ---------------------------------------------------------------------------


def handle_ping(
    db: Connection, job: str, kind: str, body: bytes, *, now: datetime
) -> tuple[int, dict[str, Any]]:
    """Record one ping in the store; ``(HTTP status, JSON body)``. Authentication is the
    caller's (``register_ping_routes`` puts the bearer token in front)."""
    try:
        report = _report_of(db, job, kind, body, now.timestamp())
        from runner.wrap.recorder import record

        run_id = record(db, report)
    except PingError as exc:
        return exc.status, {"error": str(exc)}
    answer: dict[str, Any] = {"job": job, "kind": kind}
    if isinstance(report, RunReport):
        answer.update(run_id=run_id, state=report.state)
    return 200, answer


def _report_of(db: Connection, job: str, kind: str, body: bytes, now: float) -> Report:
    if kind not in KINDS:
        raise PingError(404, f"unknown ping {kind!r}: expected one of {', '.join(KINDS)}")
    if not job or not set(job) <= _JOB_NAME_CHARS or set(job) == {"."}:
        raise PingError(400, f"job {job!r}: a job name is letters, digits, '_', '.' or '-'")
    if len(body) > MAX_BODY_BYTES:
        raise PingError(413, f"request body is {len(body)} bytes, the limit is {MAX_BODY_BYTES}")
    data = _json_body(body)
    if "report" in data:
        return _sent_report(job, kind, data["report"])
    spec = _stored_spec(db, job)
    if kind == "skip":
        reason = _optional_text(data, "reason") or "skipped (ping)"
        return SkipReport(new_report_id(), spec, _time(data, "started_at") or now, reason)
    if kind == "start":
        started = _time(data, "started_at") or now
        report = RunReport(new_report_id(), spec, started)
        report.start_attempt(started)
        return report
    return _finished_report(db, spec, kind, data, now)


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PingError(400, f"body: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PingError(400, f"body: expected a JSON object, got {type(data).__name__}")
    return data


def _sent_report(job: str, kind: str, data: object) -> Report:
    try:
        report = report_from_json(data)
    except ValueError as exc:
        raise PingError(400, f"report.{exc}") from None
    if report.job.name != job:
        raise PingError(400, f"report.job.name: {report.job.name!r} is not the job {job!r}")
    if isinstance(report, SkipReport) != (kind == "skip"):
        sent = "skip" if isinstance(report, SkipReport) else "run"
        raise PingError(400, f"report.kind: a {sent!r} report does not fit a {kind!r} ping")
    if isinstance(report, RunReport) and report.state not in _STATES_OF_KIND[kind]:
        raise PingError(400, f"report.state: {report.state!r} does not fit a {kind!r} ping")
    return report


def _stored_spec(db: Connection, job: str) -> JobSpec:
    """The job as stored (a plain ping declares no schedule and must not erase one)."""
    from runner.wrap.recorder import stored_job

    row = stored_job(db, job)
    if row is None:
        return JobSpec(job)
    tags = row.get("tags")
    return JobSpec.from_json({**row, "tags": json.loads(tags) if isinstance(tags, str) else []})


def _finished_report(
    db: Connection, spec: JobSpec, kind: str, data: Mapping[str, Any], now: float
) -> RunReport:
    exit_code = _optional_int(data, "exit_code")
    signal = _optional_int(data, "signal")
    duration = _optional_number(data, "duration_seconds")
    started = _time(data, "started_at")
    output = _optional_text(data, "output")
    run = _open_run(db, spec.name, started)
    if run is None:  # no start ping came: a run of its own
        begin = started if started is not None else now - (duration or 0.0)
        report = RunReport(new_report_id(), spec, begin)
        attempts = [report.start_attempt(begin)]
    else:
        report = RunReport(new_report_id(), spec, run["logical_time"])
        report.started_at = run["started_at"]
        attempts = []
        for number, attempt_started in run["attempts"]:
            attempt = report.start_attempt(attempt_started)
            attempt.number = number
            attempts.append(attempt)
        if not attempts:
            attempts = [report.start_attempt(now)]
    end = attempts[-1].started_at + duration if duration is not None else now
    success = kind == "success"
    reason = _optional_text(data, "reason") or (
        None if success else _failure_reason(exit_code, signal)
    )
    error = None if success or output is None else output[-OUTPUT_TAIL_CHARS:]
    for attempt in attempts:
        attempt.finish(
            SUCCESS if success else FAILED,
            end,
            exit_code=0 if success and exit_code is None else exit_code,
            signal=signal,
            error=error,
            reason=reason,
        )
    report.finish(SUCCESS if success else FAILED, end, None if success else f"failed: {spec.name}")
    return report


def _failure_reason(exit_code: int | None, signal: int | None) -> str:
    if signal is not None:
        return f"killed by signal {signal}"
    return f"exit code {exit_code}" if exit_code is not None else "failed (ping)"


def _open_run(db: Connection, job: str, started: float | None) -> dict[str, Any] | None:
    """The run a finish ping ends: the one started at ``started``, else the newest running
    run of the job; with the numbers and start times of its running attempts."""
    if started is not None:
        rows = db.rows(
            "SELECT id, logical_time, started_at FROM runs WHERE job = :job "
            "AND logical_time = :lt AND state IN ('queued', 'running')",
            {"job": job, "lt": started},
        )
    else:
        rows = db.rows(
            "SELECT id, logical_time, started_at FROM runs WHERE job = :job "
            "AND trigger = 'wrap' AND state = 'running' ORDER BY id DESC LIMIT 1",
            {"job": job},
        )
    if not rows:
        return None
    run = rows[0]
    attempts = db.rows(
        "SELECT number, started_at FROM attempts WHERE run_id = :id AND state = 'running' "
        "ORDER BY number",
        {"id": run["id"]},
    )
    return {
        "logical_time": float(run["logical_time"]),
        "started_at": float(run["started_at"] or run["logical_time"]),
        "attempts": [(int(a["number"]), float(a["started_at"])) for a in attempts],
    }


# -- body fields: a message names the field ------------------------------------------------


def _time(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise PingError(400, f"{key}: expected an ISO 8601 time or epoch seconds, got {value!r}")


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PingError(400, f"{key}: expected a whole number >= 0, got {value!r}")
    return value


def _optional_number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PingError(400, f"{key}: expected a number of seconds >= 0, got {value!r}")
    return float(value)


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PingError(400, f"{key}: expected a string, got {type(value).__name__}")
    return value


# -- the routes -----------------------------------------------------------------------------


class PingApi:
    """The ping handlers with their own store connection (HTTP requests run on many
    threads; one connection, one request at a time)."""

    def __init__(self, db_url: str, *, clock: Clock = utcnow) -> None:
        self.db_url = db_url
        self.clock = clock
        self._lock = threading.Lock()
        self._db: Connection | None = None

    def handle(self, request: Request) -> Response:
        """``POST /api/v1/jobs/{job}/{kind}``."""
        from runner.http_api import Response
        from runner.wrap.connection import connect

        job, kind = request.params.get("job", ""), request.params.get("kind", "")
        with self._lock:
            try:
                if self._db is None:
                    self._db = connect(self.db_url, timeout=DB_TIMEOUT_SECONDS)
                status, answer = handle_ping(self._db, job, kind, request.body, now=self.clock())
            except Exception as exc:
                self.close()
                answer = {"error": f"the store is unavailable: {type(exc).__name__}"}
                status = 503
                logger.warning("ping %s/%s not recorded: %s", job, kind, exc)
        return Response.json(answer, status)

    def close(self) -> None:
        """Close the store connection (a new one is opened on the next ping)."""
        if self._db is not None:
            db, self._db = self._db, None
            db.close()


def ping_token(server_settings: Mapping[str, Any]) -> Secret | None:
    """``server.token`` from runwatch.yaml as a Secret, or None when it is not set."""
    token = server_settings.get("token")
    if isinstance(token, Secret):
        return token if token.reveal() else None
    if isinstance(token, str) and token:
        return Secret(token)
    return None


def register_ping_routes(
    server: HttpServer, db_url: str, token: Secret, *, clock: Clock = utcnow
) -> PingApi:
    """Add ``POST /api/v1/jobs/{job}/{kind}`` behind the bearer token; the API (close it
    when the server stops)."""
    from runner.http_api import require_bearer

    api = PingApi(db_url, clock=clock)
    server.route("POST", ROUTE, require_bearer(token, api.handle))
    return api


# -- the client -----------------------------------------------------------------------------


class PingClientError(Exception):
    """A ping that failed; ``permanent`` when sending it again cannot help (400, 404, 413)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class PingClient:
    """Sends reports to `runwatch serve` (urllib, a short timeout)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def send(self, report: Report) -> int | None:
        """Ping with the report; the run's id. PingClientError when it was not recorded."""
        if isinstance(report, SkipReport):
            kind = "skip"
        else:
            kind = {RUNNING: "start", SUCCESS: "success"}.get(report.state, "fail")
        body = json.dumps({"report": report.to_json()}).encode()
        answer = self._post(f"/api/v1/jobs/{report.job.name}/{kind}", body)
        run_id = answer.get("run_id")
        return run_id if isinstance(run_id, int) else None

    def _post(self, path: str, body: bytes) -> dict[str, Any]:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - the URL is the user's --server
            self.base_url + path,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                data = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace").strip()
            raise PingClientError(
                f"{self.base_url} answered {exc.code}: {detail}",
                permanent=exc.code in (400, 404, 413),
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PingClientError(f"{self.base_url} unreachable: {exc}") from None
        return data if isinstance(data, dict) else {}
