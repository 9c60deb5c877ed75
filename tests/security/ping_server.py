"""What the ping API's tests share: the API served on loopback and pings to it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from runner.redaction import Redactor
from runner.secret import Secret
from runner.server.http_api import HttpServer
from runner.server.ping_api import PingPolicy, register_ping_routes
from runner.server.ping_tokens import job_token

SECRET = Secret("a-server-secret-of-32-characters")


def token(job: str, secret: Secret = SECRET) -> str:
    """The job's ping token."""
    return job_token(secret, job).reveal()


def ping(
    url: str, job: str, kind: str, body: object = None, *, bearer: str | None = ""
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` (JSON, or raw bytes) to a ping route; the status and JSON answer.
    ``bearer`` defaults to the job's own token."""
    data = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    headers = {"Content-Type": "application/json"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {token(job) if bearer == '' else bearer}"
    request = urllib.request.Request(
        f"{url}/api/v1/jobs/{job}/{kind}", data=data, method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        text = exc.read()
        exc.close()
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, {"text": text.decode()}


def served(
    db_url: str, policy: PingPolicy | None = None, redactor: Redactor | None = None
) -> Iterator[str]:
    """Serve the ping API over the store at ``db_url`` while the caller holds the URL."""
    server = HttpServer("127.0.0.1:0")
    api = register_ping_routes(server, db_url, SECRET, policy=policy, redactor=redactor)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        api.close()
