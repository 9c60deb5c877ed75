"""Clients that try to use up the HTTP server: bodies without a valid length, slow
requests, floods of idle connections. Each bounded in count and time, on loopback, and
waiting on conditions (the server closing, an answer arriving), never on the clock."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from runner.server.http_api import HttpLimits, HttpServer, Request, Response, require_bearer
from tests.e2e.cli import clean_env, free_port

FLOOD = 1000
WAIT_SECONDS = 20.0
"""The most any test waits for a condition (the server's own limits are far lower)."""
FLOOD_SECONDS = 30.0
PROMPT_SECONDS = 5.0
"""How long a connection or /healthz may take under a flood: far more than it needs, far
less than an exhausted server makes it wait."""


class Handled:
    """A route that counts the requests that reached it (none should, in these tests)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.authorised: list[str] = []

    def authorize(self, _request: Request, given: str) -> bool:
        self.authorised.append(given)
        return True

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return Response.text("ok\n")


@pytest.fixture
def handled() -> Handled:
    return Handled()


def serving(handled: Handled, **limits: float) -> Iterator[HttpServer]:
    server = HttpServer("127.0.0.1:0", limits=HttpLimits(**limits))  # type: ignore[arg-type]
    server.route("POST", "/api/v1/jobs/{job}/{kind}", require_bearer(handled.authorize, handled))
    server.route("GET", "/healthz", lambda _request: Response.text("ok\n"))
    with server:
        yield server


@pytest.fixture
def server(handled: Handled) -> Iterator[HttpServer]:
    yield from serving(handled, request_timeout_seconds=1.0, max_connections=16)


def raw_request(server: HttpServer, head: str) -> tuple[bytes, float]:
    """Send ``head`` (request line and headers, no body), keep the connection open; the
    answer read until the server closes, and how long that took."""
    started = time.monotonic()
    with socket.create_connection(server.address, timeout=WAIT_SECONDS) as conn:
        conn.sendall(head.encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer, time.monotonic() - started


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("length_header", "status"),
    [
        ("Content-Length: -1\r\n", 400),
        ("Content-Length: 1e3\r\n", 400),
        ("Content-Length: 419430400\r\n", 413),
        ("Transfer-Encoding: chunked\r\n", 411),
    ],
)
def test_a_body_without_a_valid_length_is_refused_unread_before_authentication(
    server: HttpServer, handled: Handled, length_header: str, status: int
) -> None:
    head = (
        "POST /api/v1/jobs/etl/start HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer t\r\n{length_header}\r\n"
    )

    answer, took = raw_request(server, head)  # the body never comes

    assert status_of(answer) == status
    assert took < 1.0, "the server waited for a body it should not read"
    assert handled.authorised == []
    assert handled.requests == []


def test_a_post_without_a_content_length_has_no_body_and_is_served(
    server: HttpServer, handled: Handled
) -> None:
    answer, _ = raw_request(server, "POST /api/v1/jobs/etl/start HTTP/1.1\r\nHost: x\r\n\r\n")

    assert status_of(answer) == 401  # no token; but the request was read at once


def test_a_slow_client_is_cut_off_at_the_request_deadline(
    server: HttpServer, handled: Handled
) -> None:
    started = time.monotonic()
    closed = False
    with socket.create_connection(server.address, timeout=WAIT_SECONDS) as conn:
        conn.sendall(b"POST /api/v1/jobs/etl/start HTTP/1.1\r\n")
        conn.settimeout(0.05)
        while not closed and time.monotonic() - started < WAIT_SECONDS:
            try:  # a header line each time the server stays quiet: never idle, never done
                closed = conn.recv(1024) == b""
            except TimeoutError:
                try:
                    conn.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    closed = True
            except OSError:
                closed = True
    took = time.monotonic() - started

    assert closed
    assert took < 1.0 + 5.0, f"a slow request held its connection for {took:.1f}s"
    assert handled.requests == []
    wait_for(lambda: server.gate.open == 0, "the connection to be let go")


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def healthz(url: str) -> int:
    with urllib.request.urlopen(f"{url}/healthz", timeout=PROMPT_SECONDS) as response:
        return int(response.status)


def open_idle(address: tuple[str, int], count: int, stack: ExitStack) -> None:
    """``count`` connections that send nothing, closed when ``stack`` closes. They must
    all be taken within FLOOD_SECONDS: a server out of descriptors leaves them waiting in
    its backlog (before these limits, 1,000 took serve 160 s)."""
    deadline = time.monotonic() + FLOOD_SECONDS
    for opened in range(count):
        if time.monotonic() > deadline:
            raise AssertionError(f"only {opened} of {count} connections in {FLOOD_SECONDS}s")
        conn = socket.create_connection(address, timeout=PROMPT_SECONDS)
        stack.callback(conn.close)


def test_a_flood_of_idle_connections_holds_neither_threads_nor_descriptors_nor_healthz(
    handled: Handled,
) -> None:
    for server in serving(handled, request_timeout_seconds=60.0, max_connections=16):
        threads_before = set(threading.enumerate())
        with ExitStack() as stack:
            open_idle(server.address, FLOOD, stack)

            assert healthz(server.url) == 200
            assert server.gate.open <= 2 * 16
            assert set(threading.enumerate()) - threads_before == set()  # a fixed pool
            assert server.gate.cut_off + server.gate.refused >= FLOOD - 2 * 16
        assert healthz(server.url) == 200


def test_serve_with_few_descriptors_keeps_scheduling_and_answering_under_a_flood(
    tmp_path: Path,
) -> None:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  tick:\n    schedule: '* * * * * *'\n    command: 'true'\n")
    home = tmp_path / "home"
    port = free_port()
    log = (tmp_path / "serve.log").open("w")

    def few_descriptors() -> None:  # so that a flood would exhaust them without limits
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "serve",
            "--jobs",
            str(jobs),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=tmp_path,
        env=clean_env(home),
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=few_descriptors,  # noqa: PLW1509 - only setrlimit, before exec
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return healthz(url) == 200
        except OSError:
            return False

    def runs() -> list[dict[str, object]]:
        listed = subprocess.run(
            [sys.executable, "-m", "runner", "runs", "--format", "json", "--limit", "1000"],
            cwd=tmp_path,
            env=clean_env(home),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        found: list[dict[str, object]] = json.loads(listed.stdout)
        return found

    try:
        wait_for(answers, "serve to answer /healthz")
        with ExitStack() as stack:
            open_idle(("127.0.0.1", port), FLOOD, stack)
            assert healthz(url) == 200
            during = len(runs())
            wait_for(lambda: len(runs()) >= during + 3, "three runs during the flood")
            assert healthz(url) == 200
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "Too many open files" not in output
    assert "Errno 24" not in output
    assert all(r["state"] in ("success", "cancelled") for r in runs()), output
