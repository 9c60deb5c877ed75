"""A real Prometheus server for end-to-end tests: started, queried over HTTP, stopped.

Reusable by any test that needs one (the Grafana dashboards, the metrics endpoint of
`runwatch serve`). The binaries come from the Debian package `prometheus`, which also
ships `promtool`. Without them the tests skip locally and fail in CI (CI is set).
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.cli import find_binary

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
START_ATTEMPTS = 3
POLL_SECONDS = 0.05


def require_binary(name: str) -> str:
    """Return the path of `name` (prometheus, promtool); skip locally, fail in CI."""
    return find_binary(name, install="prometheus")


class PrometheusError(RuntimeError):
    """Prometheus answered a request with an error, or did not start."""


@dataclass(frozen=True)
class PrometheusServer:
    """A running Prometheus, reached through its HTTP API."""

    url: str
    workdir: Path

    def api(self, path: str, params: Mapping[str, str | Sequence[str]] | None = None) -> Any:
        """GET /api/v1/`path` and return the answer's `data`; raise PrometheusError on error."""
        query = urllib.parse.urlencode(params or {}, doseq=True)
        try:
            with urllib.request.urlopen(
                f"{self.url}/api/v1/{path}?{query}", timeout=30
            ) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:
            with error:
                answer = _error_answer(error)
        if answer.get("status") != "success":
            raise PrometheusError(
                f"{path} {dict(params or {})!r}: {answer.get('errorType')}: {answer.get('error')}"
            )
        return answer["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Evaluate an instant query and return its result vector (or scalar as one sample)."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        data = self.api("query", params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Evaluate a range query and return its result matrix."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)}
        return list(self.api("query_range", params)["result"])

    def wait_for(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll an instant query until it returns samples; raise PrometheusError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise PrometheusError(f"no result for {expr!r} within {timeout} s")
            time.sleep(POLL_SECONDS)


def finite_values(result: list[dict[str, Any]]) -> list[float]:
    """Every finite sample value of an instant or range query result."""
    pairs = [pair for series in result for pair in series.get("values", [series.get("value")])]
    values = [float(value) for _, value in pairs]
    return [value for value in values if math.isfinite(value)]


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_prometheus(
    config: Mapping[str, Any], workdir: Path, extra_args: Sequence[str] = ()
) -> Iterator[PrometheusServer]:
    """Run Prometheus with `config` on a free loopback port until the block exits."""
    binary = require_binary("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    log_path = workdir / "prometheus.log"
    for _ in range(START_ATTEMPTS):
        port = free_loopback_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                    *extra_args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = PrometheusServer(url=f"http://127.0.0.1:{port}", workdir=workdir)
        try:
            if _wait_until_ready(server, process):
                break
        except BaseException:
            _stop(process)
            raise
        # Lost the race for the port to another process: try another one.
    else:
        raise PrometheusError(f"prometheus did not start:\n{_tail(log_path)}")
    try:
        yield server
    finally:
        _stop(process)


def _wait_until_ready(server: PrometheusServer, process: subprocess.Popen[bytes]) -> bool:
    """True once /-/ready answers 200; False if the process exited (port taken)."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while process.poll() is None:
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1):
                return True
        except urllib.error.HTTPError as error:  # 503 while the TSDB opens
            error.close()
        except (urllib.error.URLError, ConnectionError):
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise PrometheusError(
                f"prometheus not ready after {READY_TIMEOUT_SECONDS} s:\n"
                f"{_tail(server.workdir / 'prometheus.log')}"
            )
        time.sleep(POLL_SECONDS)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop Prometheus with SIGTERM (it flushes its head block), SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _error_answer(error: urllib.error.HTTPError) -> dict[str, Any]:
    """The JSON error body Prometheus sends with 4xx/5xx, or a stand-in for a non-JSON one."""
    raw = error.read()
    try:
        answer = json.loads(raw)
    except ValueError:
        return {"status": "error", "errorType": f"http {error.code}", "error": raw[:500]}
    return answer if isinstance(answer, dict) else {"status": "error", "error": answer}


def _tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for error messages."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
