"""The ping API of `runwatch serve`: runs reported over HTTP by hosts without the database.

``POST /api/v1/jobs/{job}/start``, ``/success``, ``/fail`` (and ``/skip``) record runs
the way `runwatch wrap` does. Each job has its own bearer token, derived from the server
secret ``server.token`` (``runner.server.ping_tokens``; `runwatch ping-url JOB` prints it). A
job defined in a job file takes pings only when it is marked ``pingable: true`` — and
then keeps its definition, whatever the ping declares; at most ``server.max_ping_jobs``
jobs come to exist through pings. The body is optional JSON:

- from ``curl``: ``started_at`` (ISO 8601 or epoch seconds), ``exit_code``, ``signal``,
  ``duration_seconds``, ``output`` (the tail of the output) and ``reason``. A finish
  without ``started_at`` ends the job's newest running run (or is a run of its own);
- from ``runwatch wrap --server``: ``{"report": …}``, rebuilt from its allowed fields
  (``runner.server.ping_report``), so a report sent again (a retry, a replayed spool) is
  recorded once and nothing in it can steer serve's processes or files.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.clock import Clock, utcnow
from runner.secret import Secret
from runner.server.ping_report import (
    OUTPUT_TAIL_CHARS,
    REASON_CHARS,
    Fields,
    PingError,
    Window,
    check_job_name,
    sent_report,
)
from runner.server.ping_tokens import token_matches
from runner.store import spine_sql as sql
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
)

KINDS = ("start", "success", "fail", "skip")
ROUTE = "/api/v1/jobs/{job}/{kind}"
_STATES_OF_KIND = {"start": (RUNNING,), "success": (SUCCESS,), "fail": (FAILED, CANCELLED)}
DB_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_PING_JOBS = 1000

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from runner.redaction import Redactor
    from runner.server.http_api import HttpServer, Request, Response
    from runner.store.lean_connection import Connection

DefinedJobs = Callable[[], Mapping[str, bool]]
"""The jobs defined in job files, each with its ``pingable`` flag."""


class PingPolicy:
    """Which jobs pings may report, and how many jobs they may create."""

    def __init__(
        self,
        defined: DefinedJobs = dict,
        *,
        max_ping_jobs: int = DEFAULT_MAX_PING_JOBS,
    ) -> None:
        self.defined = defined
        self.max_ping_jobs = max_ping_jobs

    def spec(self, db: Connection, job: str) -> JobSpec | None:
        """The stored job when a job file defines it (its definition stands), else None
        (the ping may declare the job); PingError when pings may not report it."""
        from runner.wrap.recorder import stored_job

        pingable = self.defined().get(job)
        row = stored_job(db, job)
        if pingable is None and row is not None and row.get("source") not in (None, "wrap"):
            pingable = False  # defined in the job files of another serve
        if pingable is False:
            raise PingError(403, f"job {job!r} is defined in a job file without 'pingable: true'")
        if pingable:
            return _spec_of(row) if row is not None else JobSpec(job)
        if row is None:
            count = db.scalar(sql.WRAPPED_JOB_COUNT)
            if isinstance(count, int) and count >= self.max_ping_jobs:
                raise PingError(
                    409,
                    f"job {job!r}: {count} jobs are recorded by wrap and pings, the limit "
                    f"(server.max_ping_jobs) is {self.max_ping_jobs}",
                )
        return None


def _spec_of(row: Mapping[str, object]) -> JobSpec:
    tags = row.get("tags")
    return JobSpec.from_json({**row, "tags": json.loads(tags) if isinstance(tags, str) else []})


# -- the handlers ---------------------------------------------------------------------------


def handle_ping(
    db: Connection,
    job: str,
    kind: str,
    body: bytes,
    *,
    now: datetime,
    policy: PingPolicy | None = None,
) -> tuple[int, dict[str, Any]]:
    """Record one ping in the store; ``(HTTP status, JSON body)``. Authentication is the
    caller's (``register_ping_routes`` puts each job's token in front)."""
    try:
        report = _report_of(
            db, job, kind, body, window=Window(now.timestamp()), policy=policy or PingPolicy()
        )
        from runner.wrap.recorder import record

        run_id = record(db, report)
    except PingError as exc:
        return exc.status, {"error": str(exc)}
    answer: dict[str, Any] = {"job": job, "kind": kind}
    if isinstance(report, RunReport):
        answer.update(run_id=run_id, state=report.state)
    return 200, answer


def _report_of(
    db: Connection, job: str, kind: str, body: bytes, *, window: Window, policy: PingPolicy
) -> Report:
    if kind not in KINDS:
        raise PingError(404, f"unknown ping {kind!r}: expected one of {', '.join(KINDS)}")
    check_job_name(job)
    data = Fields(_json_body(body))
    defined_spec = policy.spec(db, job)
    if "report" in data.data:
        return _fitting(sent_report(data.data["report"], job, window, defined_spec), kind)
    spec = defined_spec or _stored_spec(db, job)
    started = data.time("started_at")
    if started is not None:
        window.logical("started_at", started)
    if kind == "skip":
        reason = data.text("reason", REASON_CHARS) or "skipped (ping)"
        return SkipReport(new_report_id(), spec, started or window.now, reason)
    if kind == "start":
        report = RunReport(new_report_id(), spec, started or window.now)
        report.start_attempt(report.logical_time)
        return report
    return _finished_report(db, spec, kind, data, window=window, started=started)


def _json_body(body: bytes) -> object:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PingError(400, f"body: not valid JSON ({str(exc)[:100]})") from None


def _fitting(report: Report, kind: str) -> Report:
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
    return JobSpec(job) if row is None else _spec_of(row)


def _finished_report(
    db: Connection,
    spec: JobSpec,
    kind: str,
    data: Fields,
    *,
    window: Window,
    started: float | None,
) -> RunReport:
    exit_code = data.whole("exit_code", 255)
    signal = data.whole("signal", 255)
    duration = data.seconds("duration_seconds")
    output = data.text("output", OUTPUT_TAIL_CHARS, tail=True)
    now = window.now
    run = _open_run(db, spec.name, started)
    if run is None:  # no start ping came: a run of its own
        begin = started if started is not None else window.clamp(now - (duration or 0.0))
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
    end = now if duration is None else window.clamp(attempts[-1].started_at + duration)
    success = kind == "success"
    reason = data.text("reason", REASON_CHARS) or (
        None if success else _failure_reason(exit_code, signal)
    )
    for attempt in attempts:
        attempt.finish(
            SUCCESS if success else FAILED,
            end,
            exit_code=0 if success and exit_code is None else exit_code,
            signal=signal,
            error=None if success else output,
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
        rows = db.rows(sql.RUN_STARTED_AT, {"job": job, "lt": started})
    else:
        rows = db.rows(sql.NEWEST_WRAPPED_RUN, {"job": job})
    if not rows:
        return None
    run = rows[0]
    attempts = db.rows(sql.RUNNING_ATTEMPTS, {"id": run["id"]})
    return {
        "logical_time": float(run["logical_time"]),
        "started_at": float(run["started_at"] or run["logical_time"]),
        "attempts": [(int(a["number"]), float(a["started_at"])) for a in attempts],
    }


# -- the routes -----------------------------------------------------------------------------


class PingApi:
    """The ping handlers with their own store connection (HTTP requests run on many
    threads; one connection, one request at a time)."""

    def __init__(
        self,
        db_url: str,
        *,
        clock: Clock = utcnow,
        policy: PingPolicy | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.db_url = db_url
        self.clock = clock
        self.policy = policy or PingPolicy()
        self.redactor = redactor
        self._lock = threading.Lock()
        self._db: Connection | None = None

    def handle(self, request: Request) -> Response:
        """``POST /api/v1/jobs/{job}/{kind}``."""
        from runner.server.http_api import Response
        from runner.store.lean_connection import connect

        job, kind = request.params.get("job", ""), request.params.get("kind", "")
        with self._lock:
            try:
                if self._db is None:
                    self._db = connect(self.db_url, timeout=DB_TIMEOUT_SECONDS)
                status, answer = handle_ping(
                    self._db,
                    job,
                    kind,
                    self._redacted(request.body),
                    now=self.clock(),
                    policy=self.policy,
                )
            except Exception as exc:
                self.close()
                answer = {"error": f"the store is unavailable: {type(exc).__name__}"}
                status = 503
                logger.warning("ping %s/%s not recorded: %s", job[:60], kind[:20], exc)
        return Response.json(answer, status)

    def _redacted(self, body: bytes) -> bytes:
        """The body with this server's secrets (and their parts) replaced: a client's
        output tail may hold them, and nothing stores a secret."""
        if self.redactor is None:
            return body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body  # not JSON either: refused when parsed
        return self.redactor.redact(text).encode("utf-8")

    def close(self) -> None:
        """Close the store connection (a new one is opened on the next ping)."""
        if self._db is not None:
            db, self._db = self._db, None
            db.close()


def register_ping_routes(
    server: HttpServer,
    db_url: str,
    secret: Secret,
    *,
    clock: Clock = utcnow,
    policy: PingPolicy | None = None,
    redactor: Redactor | None = None,
) -> PingApi:
    """Add ``POST /api/v1/jobs/{job}/{kind}``, each job behind its own token; the API
    (close it when the server stops)."""
    from runner.server.http_api import require_bearer

    api = PingApi(db_url, clock=clock, policy=policy, redactor=redactor)

    def authorized(request: Request, given: str) -> bool:
        return token_matches(secret, request.params.get("job", ""), given)

    server.route("POST", ROUTE, require_bearer(authorized, api.handle))
    return api
