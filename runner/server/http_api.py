"""The HTTP server of ``runwatch serve``: ``/metrics``, ``/healthz`` and routes others add.

A stdlib ``HTTPServer`` in a background thread, its connections served by a fixed
pool of threads. Handlers are plain functions from ``Request`` to ``Response``, registered with
``route(method, "/api/v1/jobs/{job}/start", handler)``; a handler that raises gets a 500
and a log line, never a dead server. Listens on 127.0.0.1:9464 unless told otherwise
(9464 is the port OpenTelemetry's Prometheus exporters use), over TLS when given a
certificate.

Limits hold before any handler (and so before authentication) runs: a body without a
valid ``Content-Length`` is refused (411/400) and one over the limit is 413, neither
read; connections are bounded in number and each request must arrive whole within a
deadline (``runner.server.http_connections``), so no client can use up the threads or file
descriptors the scheduler needs.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from runner.errors import RunwatchError, UsageError
from runner.server.http_connections import ConnectionGate, GatedHTTPServer
from runner.store.spine_sql import to_json
from runner.telemetry import exposition
from runner.telemetry.health import Health

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
DEFAULT_LISTEN = f"{DEFAULT_HOST}:{DEFAULT_PORT}"
MAX_BODY_BYTES = 64 * 1024
MAX_CONNECTIONS = 64
REQUEST_TIMEOUT_SECONDS = 10.0
_METHODS_WITH_BODY = ("POST", "PUT")
_PARAM = re.compile(r"\{([A-Za-z_]\w*)\}")


class ListenError(RunwatchError, OSError):
    """The server cannot listen on the address it was given."""


@dataclass(frozen=True)
class HttpLimits:
    """What one client may take of the server."""

    max_connections: int = MAX_CONNECTIONS
    request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS
    """Headers and body must arrive within this long of the connection."""
    max_body_bytes: int = MAX_BODY_BYTES


@dataclass(frozen=True)
class Request:
    """One HTTP request, as handlers see it; header names are lower case."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    """Values of the route's ``{name}`` segments."""
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str = ""


@dataclass(frozen=True)
class Response:
    """What a handler returns."""

    status: int = 200
    body: bytes | Sequence[bytes] = b""
    """The body, or chunks of it written in turn."""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Response:
        """A JSON body."""
        body = to_json(value).encode()
        return cls(status, body + b"\n", "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        """A plain-text body."""
        return cls(status, text.encode("utf-8"))


Handler = Callable[[Request], Response]


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (on 127.0.0.1) or ``[v6addr]:PORT``; UsageError otherwise."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    host = host.strip("[]") or DEFAULT_HOST
    return host, int(port_text)


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    handler: Handler


class Router:
    """Routes by method and path template (``{name}`` matches one path segment)."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` requests to ``template``."""
        if not template.startswith("/"):
            raise ValueError(f"route {template!r}: must start with /")
        regex = _PARAM.sub(
            r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        )
        self._routes.append(_Route(method.upper(), re.compile(f"^{regex}$"), template, handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | int:
        """The handler and path parameters, or 404 (no such path) / 405 (wrong method)."""
        allowed = False
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method == method:
                return route.handler, {k: unquote(v) for k, v in match.groupdict().items()}
            allowed = True
        return 405 if allowed else 404


class HttpServer:
    """A threaded HTTP server run in a background thread: ``start()``, then ``stop()``."""

    def __init__(
        self,
        listen: str = DEFAULT_LISTEN,
        *,
        router: Router | None = None,
        limits: HttpLimits | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = parse_listen(listen)
        self.router = router or Router()
        self.limits = limits or HttpLimits()
        self.tls = tls
        self.gate = ConnectionGate(self.limits.max_connections, self.limits.request_timeout_seconds)
        self._server: GatedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, template: str, handler: Handler) -> None:
        """Register a route (before or after ``start``)."""
        self.router.add(method, template, handler)

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port (the real port when 0 was asked for)."""
        if self._server is None:
            return self.host, self.port
        return self.host, int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` (``https://`` over TLS)."""
        host, port = self.address
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"

    def start(self) -> None:
        """Bind and serve in a background thread; ListenError when the address is unusable."""
        if self._server is not None:
            return
        server_class = _IPv6Server if ":" in self.host else GatedHTTPServer
        try:
            server = server_class(
                (self.host, self.port), _make_handler(self.router, self.limits, self.gate)
            )
        except OSError as exc:
            raise ListenError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        server.start_workers(self.gate, self.limits.max_connections, self.tls)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="runwatch-http",
            daemon=True,
        )
        self._thread.start()
        logger.info("serving HTTP on %s", self.url)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close the socket and wait for the serving thread; idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> HttpServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _IPv6Server(GatedHTTPServer):
    address_family = socket.AF_INET6


def _body_length(method: str, headers: Mapping[str, str], limit: int) -> int | Response:
    """The body's length from the headers, or the answer refusing it unread."""
    if headers.get("transfer-encoding") is not None:
        return Response.text("Length Required: send the body with a Content-Length\n", 411)
    text = headers.get("content-length")
    if text is None:
        return 0  # HTTP/1.1: no Content-Length and no Transfer-Encoding, no body
    if not text.isdigit() or not text.isascii():
        return Response.text("Content-Length: expected a whole number of bytes\n", 400)
    length = int(text)
    if length and method not in _METHODS_WITH_BODY:
        return Response.text(f"{method} requests take no body\n", 400)
    if length > limit:
        return Response.text(f"request body over the limit of {limit} bytes\n", 413)
    return length


def _make_handler(
    router: Router, limits: HttpLimits, gate: ConnectionGate
) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        server_version = "runwatch"
        timeout = limits.request_timeout_seconds

        def setup(self) -> None:
            super().setup()
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def do_DELETE(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            found = router.resolve(self.command, parts.path)
            if isinstance(found, int):
                gate.received(self.connection)
                self._send(
                    Response.text("not found\n" if found == 404 else "method not allowed\n", found)
                )
                return
            handler, params = found
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = _body_length(self.command, headers, limits.max_body_bytes)
            if isinstance(length, Response):
                gate.received(self.connection)
                self._send(length)
                return
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # cut off at the deadline, or the client left
                return
            gate.received(self.connection)
            request = Request(
                method=self.command,
                path=parts.path,
                params=params,
                query=dict(parse_qsl(parts.query)),
                headers=headers,
                body=body,
                client=self.client_address[0],
            )
            try:
                response = handler(request)
            except Exception:
                logger.exception("HTTP %s %s failed", self.command, parts.path)
                response = Response.text("internal error\n", 500)
            self._send(response)

        def _send(self, response: Response) -> None:
            chunks = [response.body] if isinstance(response.body, bytes) else response.body
            try:
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(sum(len(c) for c in chunks)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for chunk in chunks:
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError) as exc:
                logger.debug("client went away: %s", exc)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s " + format, self.client_address[0], *args)

    return _Handler


def metrics_handler(render: Callable[[bool], bytes | Sequence[bytes]]) -> Handler:
    """``GET /metrics``: OpenMetrics (with exemplars) when the Accept header asks for it,
    else the Prometheus text format. ``render(openmetrics)`` gives the body."""

    def handle(request: Request) -> Response:
        openmetrics = exposition.wants_openmetrics(request.headers.get("accept"))
        return Response(200, render(openmetrics), exposition.content_type(openmetrics))

    return handle


def health_handler(check: Callable[[], Health]) -> Handler:
    """``GET /healthz``: 200 with ``{status, heartbeat_age_seconds}``, 503 when unhealthy."""

    def handle(request: Request) -> Response:
        health = check()
        return Response.json(health.as_json(), 200 if health.healthy else 503)

    return handle


def require_bearer(authorized: Callable[[Request, str], bool], handler: Handler) -> Handler:
    """``handler`` behind ``Authorization: Bearer <token>``: 401 unless
    ``authorized(request, token)``."""

    def handle(request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given or not authorized(request, given.strip()):
            return Response(401, b"unauthorized\n", headers={"WWW-Authenticate": "Bearer"})
        return handler(request)

    return handle


def telemetry_server(
    listen: str,
    *,
    render: Callable[[bool], bytes | Sequence[bytes]],
    health: Callable[[], Health],
    limits: HttpLimits | None = None,
    tls: ssl.SSLContext | None = None,
) -> HttpServer:
    """A server with ``GET /metrics`` and ``GET /healthz``; add routes, then ``start()``.

    ``runwatch serve`` builds its server here too, so what the tests exercise is what
    production answers."""
    server = HttpServer(listen, limits=limits, tls=tls)
    server.route("GET", "/metrics", metrics_handler(render))
    server.route("GET", "/healthz", health_handler(health))
    return server
