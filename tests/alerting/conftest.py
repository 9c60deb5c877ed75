"""Fixtures for the alerting tests: a fixed clock, an event writer on the real store,
and loopback HTTP(S) servers that stand in for Slack, PagerDuty and webhooks."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alerting.config import AlertingConfig, parse_alerting
from runner.events import Event
from runner.model import Job, Task
from runner.store.store import Store
from tests.tls import self_signed

T0 = dt.datetime(2030, 1, 7, 3, 0, tzinfo=dt.UTC)


class FixedClock:
    """A clock that moves only when told."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


class EventLog:
    """Appends events to the real store at the clock's time."""

    def __init__(self, store: Store, clock: FixedClock) -> None:
        self.store = store
        self.clock = clock
        self._run_id = 100

    def add(self, cls: type[Event], job: str = "nightly-etl", **fields: Any) -> Event:
        event = cls(at=fields.pop("at", self.clock.now), job=job, **fields)
        self.store.append(event)
        return event

    def run(self, job: str = "nightly-etl", *, ok: bool, task: str = "load") -> int:
        """A run's start, attempt and end events; returns its run id."""
        from runner.events import (
            AttemptFailed,
            AttemptStarted,
            AttemptSucceeded,
            RunFailed,
            RunStarted,
            RunSucceeded,
        )

        self._run_id += 1
        run_id = self._run_id
        self.add(RunStarted, job, run_id=run_id, logical_time=self.clock.now)
        self.add(AttemptStarted, job, run_id=run_id, task=task, attempt=1)
        if ok:
            self.add(AttemptSucceeded, job, run_id=run_id, task=task, attempt=1)
            self.add(RunSucceeded, job, run_id=run_id, duration_seconds=1.0)
        else:
            self.add(
                AttemptFailed,
                job,
                run_id=run_id,
                task=task,
                attempt=1,
                exit_code=3,
                error="Traceback: boom",
            )
            self.add(RunFailed, job, run_id=run_id, duration_seconds=1.0, failed_tasks=[task])
        return run_id


@pytest.fixture
def events(store: Store, clock: FixedClock) -> EventLog:
    store.sync_jobs(
        [
            Job(
                "nightly-etl",
                {"load": Task("load", command=("true",))},
                owner="data-eng",
                tags=("etl", "warehouse"),
            )
        ],
        clock.now,
    )
    return EventLog(store, clock)


def config(raw: dict[str, Any], env: dict[str, str] | None = None) -> AlertingConfig:
    """An AlertingConfig from a raw ``alerting:`` mapping."""
    return parse_alerting(raw, env=env or {})


# -- loopback servers ------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class RecordingServer:
    """Records every request; answers queued replies first, then ``default(request)``."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    replies: deque[Reply] = field(default_factory=deque)
    default: Callable[[Recorded], Reply] = lambda r: (200, {}, b"ok")
    arrived: threading.Event = field(default_factory=threading.Event)

    def reply(
        self,
        status: int,
        body: bytes | dict[str, Any] = b"",
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        for _ in range(times):
            self.replies.append((status, headers or {}, data))

    def on(self, path_suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]


def serve(tls: ssl.SSLContext | None, port: int = 0) -> Iterator[RecordingServer]:
    """A recording server on loopback (HTTPS with ``tls``; on ``port``, else any free
    one), until the generator closes."""
    box: list[RecordingServer] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            request = Recorded(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            server = box[0]
            server.requests.append(request)
            status, headers, body = (
                server.replies.popleft() if server.replies else server.default(request)
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            server.arrived.set()

        do_GET = do_POST  # a client that follows a 302 or 303 comes back with a GET

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    scheme = "http"
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    box.append(RecordingServer(f"{scheme}://127.0.0.1:{httpd.server_address[1]}"))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    yield from serve(None)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


def tls_context(certificate: Certificate) -> ssl.SSLContext:
    """A server-side TLS context presenting ``certificate``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    return context


def make_certificate(folder: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost in ``folder``."""
    return Certificate(*self_signed(folder))


@pytest.fixture
def https_server(certificate: Certificate) -> Iterator[RecordingServer]:
    yield from serve(tls_context(certificate))
