"""Where the reports of a wrapped run go: the store (directly) or a ping server.

Both take the same reports at the same points of the run — the start, each retry, the
end — and both raise when they cannot take one, so the caller can spool it instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.errors import StoreError
from runner.store.spine_sql import FAILURE_PAST_CURSOR, FIRING_ALERT_OF_JOB, SCHEMA_REVISION
from runner.wrap.options import WrapOptions
from runner.wrap.report import AttemptReport, JobSpec, Report, RunReport
from runner.wrap.settings import WrapSettings
from runner.wrap.spool import TARGET_STORE, ReplayResult, Spool

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from runner.store.lean_connection import Connection
    from runner.wrap.ping_client import PingClient

START_TIMEOUT_SECONDS = 1.0
"""How long a locked or unreachable store may hold up the start of the command."""
END_TIMEOUT_SECONDS = 5.0
"""How long it may hold up wrap's exit once the command has ended."""
ALERT_CURSOR = "alerting"
"""The alert engine's cursor row in ``consumer_cursors`` (alerting.state.CURSOR)."""
REPLAY_LIMIT = 50
"""Spooled reports one wrap records after its own run; `runwatch serve` records the rest."""


class Sink:
    """Takes reports; every method raises when the destination cannot be reached."""

    name = "the store"

    def send(self, report: Report, *, final: bool = False) -> int | None:
        """Record the report; the run's id when the destination tells it."""
        raise NotImplementedError

    def set_process(self, run_id: int, report: RunReport, attempt: AttemptReport) -> None:
        """Record the attempt's pid and the run's trace id (where that means something)."""

    def knows_schedule(self, job: JobSpec) -> bool:
        """True when the destination already holds this job's schedule and timezone."""
        return False

    def replay(self, spool: Spool) -> ReplayResult:
        """Record the spooled reports meant for this destination."""
        raise NotImplementedError

    def failure(self, exc: Exception) -> str:
        """The one line wrap prints when the report goes to the spool instead."""
        return f"{self.name} is unavailable, the result goes to the spool: {exc}"

    def close(self) -> None:
        """Let go of the connection."""


class StoreSink(Sink):
    """The store, through a lean connection opened on first use."""

    def __init__(self, db_url: str, log_dir: str) -> None:
        self.db_url = db_url
        self.log_dir = log_dir
        self._db: Connection | None = None
        self._final = False
        self._schema_checked = False

    def _connection(self, *, final: bool) -> Connection:
        from runner.store.lean_connection import connect

        if self._db is None:
            timeout = END_TIMEOUT_SECONDS if final else START_TIMEOUT_SECONDS
            db = connect(self.db_url, timeout=timeout)
            try:
                stale = self._schema_stale(db)
            except BaseException:
                db.close()
                raise
            if stale:
                db.close()
                self._migrate()
                db = connect(self.db_url, timeout=timeout)
            self._db = db
            self._final = final
        elif final and not self._final:
            self._final = True
            milliseconds = int(END_TIMEOUT_SECONDS * 1000)
            self._db.execute(
                f"PRAGMA busy_timeout = {milliseconds}"
                if self._db.is_sqlite
                else f"SET lock_timeout = {milliseconds}"
            )
        return self._db

    def _schema_stale(self, db: Connection) -> bool:
        """True when the store's schema is older than this runwatch's; StoreError when it
        is newer (this runwatch would write rows that schema may not expect)."""
        from runner.store.revisions import HEAD, REVISIONS

        if self._schema_checked:
            return False
        revision = _schema_revision(db)
        if revision is not None and revision not in REVISIONS:
            raise StoreError(
                f"the store's schema {revision} is newer than this runwatch's ({HEAD}): "
                "upgrade runwatch on this host to record wrapped runs"
            )
        self._schema_checked = True
        return revision is not None and revision != HEAD

    def send(self, report: Report, *, final: bool = False) -> int | None:
        """Record the report in the store, migrating a fresh or old schema once."""
        from runner.wrap.recorder import record

        db = self._connection(final=final)
        try:
            return record(db, report, log_dir=self.log_dir)
        except Exception as exc:
            if not _schema_missing(exc):
                raise
        self._migrate()
        return record(self._connection(final=final), report, log_dir=self.log_dir)

    def _migrate(self) -> None:
        """Create or upgrade the schema the slow way (SQLAlchemy, Alembic): once per schema."""
        from runner.store.store import Store

        self.close()
        Store.open(self.db_url, recover=False).close()

    def set_process(self, run_id: int, report: RunReport, attempt: AttemptReport) -> None:
        """Record the attempt's pid and the run's trace id."""
        from runner.wrap.recorder import set_process

        assert attempt.pid is not None
        set_process(
            self._connection(final=False),
            run_id,
            report.task,
            attempt.number,
            pid=attempt.pid,
            pid_start=attempt.pid_start,
            trace_id=report.trace_id,
        )

    def knows_schedule(self, job: JobSpec) -> bool:
        """True when the stored job has this schedule and timezone already."""
        from runner.wrap.recorder import stored_job

        try:
            row = stored_job(self._connection(final=False), job.name)
        except Exception:
            return False  # the first record will tell what is wrong with the store
        return row is not None and (row["schedule"], row["timezone"]) == (
            job.schedule,
            job.timezone,
        )

    def has_firing_alerts(self, job: str) -> bool:
        """True when an alert about ``job`` fires (this run may resolve it)."""
        found = self._connection(final=True).scalar(FIRING_ALERT_OF_JOB, {"job": job})
        return found is not None

    def failures_unalerted(self) -> bool:
        """True when a failed run is in the event log past the alert engine's cursor (a
        process that could not alert recorded it: this one may)."""
        found = self._connection(final=True).scalar(FAILURE_PAST_CURSOR, {"cursor": ALERT_CURSOR})
        return found is not None

    def serve_alive(self) -> bool:
        """True when a `runwatch serve` heartbeat in the store is recent."""
        import time

        from runner.wrap.alert_gaps import serve_alive

        return serve_alive(self._connection(final=True), time.time())

    def replay(self, spool: Spool) -> ReplayResult:
        """Record spooled reports for the store (a limited number per wrap)."""
        return spool.replay(lambda r: self.send(r, final=True), limit=REPLAY_LIMIT)

    def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            db, self._db = self._db, None
            db.close()


class ServerSink(Sink):
    """A `runwatch serve` reached through its ping API."""

    def __init__(self, client: PingClient, target: str) -> None:
        self.client = client
        self.target = target
        self.name = f"the server {client.base_url}"

    def send(self, report: Report, *, final: bool = False) -> int | None:
        """Ping the server with the report."""
        return self.client.send(report)

    def failure(self, exc: Exception) -> str:
        """The client's message: it says unauthorised, refused or unreachable."""
        return f"{exc}; the result goes to the spool"

    def replay(self, spool: Spool) -> ReplayResult:
        """Send this job's spooled reports meant for this server (another job's would need
        that job's token)."""
        return spool.replay(self.client.send, target=self.target, limit=REPLAY_LIMIT)


def _schema_revision(db: Connection) -> str | None:
    """The store's Alembic revision; None for a store without a schema yet."""
    try:
        found = db.scalar(SCHEMA_REVISION)
    except StoreError as exc:
        if _schema_missing(exc):
            return None
        raise
    return None if found is None else str(found)


def _schema_missing(exc: Exception) -> bool:
    """True when the store has no (or an older) schema: a table or column is missing."""
    text = str(exc).lower()
    return any(
        marker in text
        for marker in ("no such table", "no such column", "does not exist", "has no column")
    )


DEFAULT_TOKEN_ENV = "RUNWATCH_PING_TOKEN"  # noqa: S105 - a variable's name, not a token


def open_sink(options: WrapOptions, settings: WrapSettings, env: Mapping[str, str]) -> Sink:
    """The destination the options choose; ValueError for a server without a token."""
    if options.server is None:
        return StoreSink(settings.db_url, settings.log_dir)
    from runner.wrap.ping_client import PingClient

    client = PingClient(options.server, job_token(options, env), ca_file=options.ca_file)
    return ServerSink(client, spool_target(options))


def spool_target(options: WrapOptions) -> str:
    """Whom a spooled report of this wrap is for: the store, or the job's ping URL."""
    if options.server is None:
        return TARGET_STORE
    return f"{options.server.rstrip('/')}/api/v1/jobs/{options.job}"


def job_token(options: WrapOptions, env: Mapping[str, str]) -> str:
    """The job's ping token: ``--token-file``, else ``--token-env``'s variable, else
    ``RUNWATCH_PING_TOKEN``; ValueError saying where it was looked for."""
    if options.token_file is not None:
        try:
            with open(options.token_file, encoding="utf-8") as file:
                token = file.read(1024).strip()
        except OSError as exc:
            raise ValueError(f"--token-file {options.token_file}: {exc.strerror}") from None
        if not token:
            raise ValueError(f"--token-file {options.token_file}: the file is empty")
        return token
    name = options.token_env or DEFAULT_TOKEN_ENV
    token = env.get(name, "").strip()
    if not token:
        raise ValueError(
            f"no ping token: {name} is not set or empty (or give --token-file FILE); "
            "`runwatch ping-url JOB` on the server prints the job's token"
        )
    return token
