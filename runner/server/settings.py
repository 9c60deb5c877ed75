"""The ``server:`` section of runwatch.yaml, checked key by key.

`runwatch check` and `runwatch serve` read it through ``server_settings``: an unknown key
is an error with a did-you-mean (a typo'd ``token`` once turned the ping API off without
a word), and every value is range-checked, so nothing `check` accepts can stop `serve`.
"""

from __future__ import annotations

import math
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from runner import config_fields, scheduler_liveness
from runner.config import Settings
from runner.config_fields import Location
from runner.secret import Secret
from runner.server.http_api import (
    DEFAULT_LISTEN,
    MAX_CONNECTIONS,
    REQUEST_TIMEOUT_SECONDS,
    HttpLimits,
    parse_listen,
)
from runner.server.ping_api import DEFAULT_MAX_PING_JOBS

SERVER_KEYS = (
    "listen",
    "token",
    "public_url",
    "tls_cert",
    "tls_key",
    "max_ping_jobs",
    "max_connections",
    "request_timeout",
    "heartbeat_url",
    "heartbeat_interval",
    "watch_interval",
)
MIN_SECRET_CHARS = 16
MAX_INTERVAL_SECONDS = 24 * 3600.0
MAX_REQUEST_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class ServerSettings:
    """`runwatch serve`'s HTTP listener, ping API and heartbeat, as checked values."""

    listen: str = DEFAULT_LISTEN
    secret: Secret | None = None
    """``server.token``: the ping API's secret (each job's token is derived from it)."""
    public_url: str | None = None
    """The URL remote hosts use to reach this server (for `runwatch ping-url`)."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_ping_jobs: int = DEFAULT_MAX_PING_JOBS
    limits: HttpLimits = field(default_factory=HttpLimits)
    heartbeat_url: Secret | None = None
    heartbeat_interval: float = scheduler_liveness.DEFAULT_INTERVAL_SECONDS
    watch_interval: float = 2.0
    source: str = "runwatch.yaml"
    """The configuration file, for messages."""

    @property
    def base_url(self) -> str:
        """Where pings go: ``public_url``, else the listen address (https with TLS)."""
        if self.public_url is not None:
            return self.public_url.rstrip("/")
        host, port = parse_listen(self.listen)
        scheme = "https" if self.tls_cert is not None else "http"
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{port}"

    def tls_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None without a certificate; DefinitionError naming
        the key when a file is missing, unreadable or the key does not fit the cert."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        for key, path in (("tls_cert", self.tls_cert), ("tls_key", self.tls_key)):
            if not path.is_file() or not os.access(path, os.R_OK):
                raise _where(key, self.source).error(f"{path}: not a readable file")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.tls_cert, self.tls_key)
        except ssl.SSLError as exc:
            problem = (
                "the key does not match the certificate"
                if "KEY_VALUES_MISMATCH" in str(exc)
                else f"not a PEM certificate and private key ({exc.reason or exc})"
            )
            raise _where("tls_cert", self.source).error(
                f"{self.tls_cert} with server.tls_key {self.tls_key}: {problem}"
            ) from None
        return context


_FILE = "runwatch.yaml"


def _where(key: str, file: str = _FILE) -> Location:
    return Location(file, key=f"server.{key}")


def server_settings(settings: Settings) -> ServerSettings:
    """``settings.server`` checked; DefinitionError names the file and the key."""
    file = str(settings.config_path) if settings.config_path is not None else _FILE
    raw = settings.server
    config_fields.check_keys(raw, SERVER_KEYS, Location(file, key="server"))

    def at(key: str) -> Location:
        return _where(key, file)

    cert, key = _path(raw.get("tls_cert"), at("tls_cert")), _path(raw.get("tls_key"), at("tls_key"))
    if (cert is None) != (key is None):
        missing = "tls_key" if key is None else "tls_cert"
        raise at(missing).error("server.tls_cert and server.tls_key go together: both or neither")
    base = settings.config_path.parent if settings.config_path is not None else Path.cwd()
    limits = HttpLimits(
        max_connections=_whole(raw.get("max_connections"), at("max_connections"), MAX_CONNECTIONS),
        request_timeout_seconds=_seconds(
            raw.get("request_timeout"),
            at("request_timeout"),
            REQUEST_TIMEOUT_SECONDS,
            MAX_REQUEST_TIMEOUT_SECONDS,
        ),
    )
    return ServerSettings(
        listen=_listen(raw.get("listen"), at("listen")),
        secret=_secret(raw.get("token"), at("token")),
        public_url=_url(raw.get("public_url"), at("public_url")),
        tls_cert=None if cert is None else base / cert,
        tls_key=None if key is None else base / key,
        max_ping_jobs=_whole(raw.get("max_ping_jobs"), at("max_ping_jobs"), DEFAULT_MAX_PING_JOBS),
        limits=limits,
        heartbeat_url=_heartbeat_url(raw.get("heartbeat_url"), at("heartbeat_url")),
        heartbeat_interval=_seconds(
            raw.get("heartbeat_interval"), at("heartbeat_interval"), 15.0, MAX_INTERVAL_SECONDS
        ),
        watch_interval=_seconds(
            raw.get("watch_interval"), at("watch_interval"), 2.0, MAX_INTERVAL_SECONDS, zero=True
        ),
        source=file,
    )


def _listen(value: object, where: Location) -> str:
    if value is None:
        return DEFAULT_LISTEN
    text = config_fields.plain(value)
    if not isinstance(text, str):
        raise where.error(
            f"expected HOST:PORT such as {DEFAULT_LISTEN}, got {config_fields.shown_safely(value)}"
        )
    try:
        parse_listen(text)
    except ValueError:
        raise where.error(
            f"expected HOST:PORT such as {DEFAULT_LISTEN}, got {config_fields.shown_safely(value)}"
        ) from None
    return text


def _secret(value: object, where: Location) -> Secret | None:
    if value is None:
        return None
    text = config_fields.plain(value)
    if not isinstance(text, str) or len(text.strip()) < MIN_SECRET_CHARS:
        raise where.error(
            f"expected a secret of at least {MIN_SECRET_CHARS} characters "
            "(e.g. from `openssl rand -hex 32`), "
            f"got {'a shorter one' if isinstance(text, str) else type(text).__name__}"
        )
    return Secret(text)


def _url(value: object, where: Location) -> str | None:
    if value is None:
        return None
    text = config_fields.plain(value)
    parts = urlsplit(text) if isinstance(text, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise where.error(
            f"expected an http:// or https:// URL, got {config_fields.shown_safely(value)}"
        )
    assert isinstance(text, str)
    return text


def _heartbeat_url(value: object, where: Location) -> Secret | None:
    if value is None or value == "":
        return None
    _url(value, where)
    return value if isinstance(value, Secret) else Secret(str(value))


def _path(value: object, where: Location) -> Path | None:
    if value is None:
        return None
    text = config_fields.plain(value)
    if not isinstance(text, str) or not text.strip():
        raise where.error(f"expected a file path, got {config_fields.shown_safely(value)}")
    return Path(os.path.expanduser(text))


def _whole(value: object, where: Location, default: int) -> int:
    if value is None:
        return default
    return config_fields.whole_number(value, where, minimum=1, maximum=1_000_000)


def _seconds(
    value: object, where: Location, default: float, maximum: float, *, zero: bool = False
) -> float:
    if value is None:
        return default
    seconds = config_fields.setting_duration(value, where)
    low = 0.0 if zero else 0.001
    if not math.isfinite(seconds) or not low <= seconds <= maximum:
        bound = "0" if zero else "above 0"
        got = config_fields.shown_safely(value)
        raise where.error(f"expected a duration from {bound} to {maximum:.0f}s, got {got}")
    return seconds


def check_server_settings(settings: Settings) -> ServerSettings:
    """``server_settings`` plus what only the files can tell (TLS certificate and key)."""
    server = server_settings(settings)
    server.tls_context()
    return server
