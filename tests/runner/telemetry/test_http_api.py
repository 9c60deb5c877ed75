"""The HTTP server: routes, /metrics content negotiation, /healthz, shutdown."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from runner.errors import UsageError
from runner.server.http_api import (
    DEFAULT_LISTEN,
    HttpServer,
    ListenError,
    Request,
    Response,
    parse_listen,
    require_bearer,
    telemetry_server,
)
from runner.telemetry.health import Health, HeartbeatHealth

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def fetch(url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
          body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def render(openmetrics: bool) -> bytes:
    return b"# EOF\n" if openmetrics else b"up 1.0\n"


class Beats:
    def __init__(self) -> None:
        self.last: datetime | None = None


@pytest.fixture
def server() -> Iterator[tuple[HttpServer, Beats, list[datetime]]]:
    beats = Beats()
    now = [T0]
    health = HeartbeatHealth(lambda: beats.last, max_age_seconds=60, clock=lambda: now[0])
    server = telemetry_server("127.0.0.1:0", render=render, health=health)
    server.start()
    yield server, beats, now
    server.stop()


def test_metrics_are_text_by_default_and_openmetrics_when_asked(
    server: tuple[HttpServer, Beats, list[datetime]],
) -> None:
    http, _, _ = server
    status, headers, body = fetch(f"{http.url}/metrics")
    assert (status, body) == (200, b"up 1.0\n")
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    prometheus_accept = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    status, headers, body = fetch(f"{http.url}/metrics", headers={"Accept": prometheus_accept})
    assert (status, body) == (200, b"# EOF\n")
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    refused = "application/openmetrics-text;q=0,text/plain"
    assert fetch(f"{http.url}/metrics", headers={"Accept": refused})[2] == b"up 1.0\n"


def test_healthz_follows_the_heartbeat(server: tuple[HttpServer, Beats, list[datetime]]) -> None:
    http, beats, now = server

    def health() -> tuple[int, dict[str, object]]:
        status, _, body = fetch(f"{http.url}/healthz")
        return status, json.loads(body)

    assert health() == (200, {"status": "starting", "heartbeat_age_seconds": None})
    beats.last = T0 + timedelta(seconds=50)
    now[0] = T0 + timedelta(seconds=80)
    assert health() == (200, {"status": "ok", "heartbeat_age_seconds": 30.0})
    now[0] = T0 + timedelta(seconds=111)
    assert health() == (503, {"status": "stale", "heartbeat_age_seconds": 61.0})


def test_no_heartbeat_after_the_grace_is_unhealthy() -> None:
    times = iter([T0, T0 + timedelta(seconds=61)])
    check = HeartbeatHealth(lambda: None, max_age_seconds=60, clock=lambda: next(times))
    assert check() == Health(False, "no_heartbeat", None)


def test_routes_added_later_get_path_parameters_body_and_headers(
    server: tuple[HttpServer, Beats, list[datetime]],
) -> None:
    http, _, _ = server
    seen: list[Request] = []

    def start(request: Request) -> Response:
        seen.append(request)
        return Response.json({"job": request.params["job"]}, status=202)

    http.route(
        "POST",
        "/api/v1/jobs/{job}/start",
        require_bearer(lambda _r, given: given == "s3cret", start),
    )
    url = f"{http.url}/api/v1/jobs/nightly%20etl/start?rid=7"
    denied = fetch(url, method="POST", body=b"{}", headers={"Authorization": "Bearer nope"})
    status, _, body = fetch(
        url, method="POST", body=b'{"a":1}', headers={"Authorization": "Bearer s3cret"}
    )
    assert denied[0] == 401
    assert (status, json.loads(body)) == (202, {"job": "nightly etl"})
    [request] = seen
    assert request.body == b'{"a":1}'
    assert request.query == {"rid": "7"}
    assert request.headers["authorization"] == "Bearer s3cret"


def test_unknown_paths_wrong_methods_and_failing_handlers_get_error_statuses(
    server: tuple[HttpServer, Beats, list[datetime]],
) -> None:
    http, _, _ = server

    def broken(request: Request) -> Response:
        raise RuntimeError("handler bug")

    http.route("GET", "/broken", broken)
    assert fetch(f"{http.url}/nope")[0] == 404
    assert fetch(f"{http.url}/metrics", method="POST", body=b"")[0] == 405
    assert fetch(f"{http.url}/broken")[0] == 500
    assert fetch(f"{http.url}/metrics")[0] == 200  # still serving


def test_stop_closes_the_port_and_a_busy_port_is_a_clear_error() -> None:
    first = HttpServer("127.0.0.1:0")
    first.start()
    host, port = first.address
    with pytest.raises(ListenError, match=f"cannot listen on 127.0.0.1:{port}"):
        HttpServer(f"127.0.0.1:{port}").start()
    first.stop()
    first.stop()
    with socket.socket() as probe:
        assert probe.connect_ex((host, port)) != 0


def test_listen_addresses_parse_and_bad_ones_are_usage_errors() -> None:
    assert DEFAULT_LISTEN == "127.0.0.1:9464"
    assert parse_listen("0.0.0.0:9100") == ("0.0.0.0", 9100)
    assert parse_listen(":9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    for bad in ("9464", "host:", "host:99999", "host:http"):
        with pytest.raises(UsageError, match="expected HOST:PORT"):
            parse_listen(bad)


def test_ipv6_loopback_is_served() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    server = HttpServer("[::1]:0")
    try:
        server.start()
    except ListenError:
        pytest.skip("IPv6 loopback is not configured")
    server.route("GET", "/ping", lambda r: Response.text("pong"))
    try:
        assert fetch(f"{server.url}/ping")[2] == b"pong"
    finally:
        server.stop()
