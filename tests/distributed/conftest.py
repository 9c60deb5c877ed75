"""Real PostgreSQL, Redis, RabbitMQ and `runwatch worker` / `runwatch serve` processes.

Each test gets a PostgreSQL schema and a broker queue of its own (deleted afterwards),
so stale messages of one test never reach the workers of another. A service that is
unreachable skips the test with the reason, except on CI (env CI set), where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runner.store.store import Store
from tests import pg
from tests.e2e.cli import free_port

REDIS_URL = os.environ.get("RUNWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("RUNWATCH_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
ROOT = Path(__file__).resolve().parents[2]


def require_broker(url: str) -> None:
    """Skip when the broker is unreachable; fail instead on CI."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        reason = f"broker {url.rsplit('@', maxsplit=1)[-1]} is unreachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: broker tests must run)", pytrace=False)
        pytest.skip(reason)


def delete_queue(url: str, name: str) -> None:
    """Remove a test's queue from the broker (best effort)."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.default_channel.queue_delete(name)
    except Exception as exc:  # a leftover queue is harmless: each test has its own
        print(f"could not delete queue {name}: {exc}")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def parent_pid(pid: int) -> int | None:
    """The parent of a live process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(stat[stat.rfind(b")") + 2 :].split()[1])


def process_exists(pid: int) -> bool:
    """True while ``pid`` is a live (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X")


@dataclass
class Cluster:
    """One test's deployment: a store schema, a broker queue, a config, its processes."""

    tmp: Path
    db_url: str
    broker_url: str
    queue: str
    processes: list[Process] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.tmp / "runwatch.yaml"

    def write_config(
        self, jobs: str, extra: str = "", *, heartbeat: str = "500ms", orphan_after: str = "3s"
    ) -> None:
        """runwatch.yaml naming the jobs file, the Celery executor (its workers' lease:
        ``heartbeat`` and ``orphan_after``) and ``extra`` sections."""
        (self.tmp / "jobs.yaml").write_text(jobs)
        self.config.write_text(
            "jobs: [jobs.yaml]\n"
            "executor:\n"
            "  kind: celery\n"
            f"  queue: {self.queue}\n"
            f"  heartbeat_interval: {heartbeat}\n"
            f"  orphan_after: {orphan_after}\n"
            "  poll_interval: 50ms\n" + extra
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWATCH_", "OTEL_"))}
        env.update(
            RUNWATCH_HOME=str(self.tmp / "home"),
            RUNWATCH_DB_URL=self.db_url,
            RUNWATCH_CELERY_BROKER_URL=self.broker_url,
            PYTHONPATH=str(ROOT),
        )
        return env

    def worker(self, concurrency: int = 2, *, host: str | None = None) -> Process:
        """Start `runwatch worker` and wait until it consumes; with ``host``, as a worker of
        another host: in a UTS namespace of its own named ``host`` (needs root)."""
        args = ["worker", "--config", str(self.config), "--concurrency", str(concurrency)]
        if host is not None:
            if os.geteuid() != 0:
                pytest.skip("a worker of another host needs root (unshare --uts)")
            shell = f'hostname {host} && exec "$@"'
            args = ["-c", shell, "sh", sys.executable, "-m", "runner", *args]
        process = self._start("worker", args, shell=host is not None)
        process.wait_for_output("ready.", "the worker to be ready")
        return process

    def serve(self) -> Process:
        """Start `runwatch serve` and wait until it answers /healthz."""
        port = free_port()
        process = self._start(
            "serve", ["serve", "--config", str(self.config), "--listen", f"127.0.0.1:{port}"]
        )
        process.wait_for_output("listening on", "serve to listen")
        return process

    def _start(self, kind: str, args: list[str], *, shell: bool = False) -> Process:
        log = self.tmp / f"{kind}-{len(self.processes)}.log"
        handle = log.open("w")
        argv = ["unshare", "--uts", "sh"] if shell else [sys.executable, "-m", "runner"]
        popen = subprocess.Popen(
            [*argv, *args],
            cwd=self.tmp,
            env=self.env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so a SIGKILL can take the whole process group
        )
        process = Process(popen, log, handle)
        self.processes.append(process)
        return process

    def store(self) -> Store:
        return Store.open(self.db_url, recover=False)

    def stop_all(self) -> None:
        for process in self.processes:
            process.kill()


@dataclass
class Process:
    """A `runwatch` child process in its own process group, with its log."""

    popen: subprocess.Popen[bytes]
    log: Path
    handle: Any

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        self.handle.flush()
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                raise AssertionError(f"{what}: exited {self.popen.returncode}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, and wait for a graceful exit."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the whole process group (the process and the pool it forked)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self.handle.close()


def _cluster(tmp_path: Path, broker_url: str) -> Iterator[Cluster]:
    require_broker(broker_url)
    queue = f"rw-test-{secrets.token_hex(4)}"
    with pg.temporary_schema() as db_url:
        Store.open(db_url).close()  # migrate once, before processes race to
        cluster = Cluster(tmp_path, db_url, broker_url, queue)
        try:
            yield cluster
        finally:
            cluster.stop_all()
            delete_queue(broker_url, queue)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A deployment on PostgreSQL and Redis."""
    yield from _cluster(tmp_path, REDIS_URL)


@pytest.fixture(params=["redis", "rabbitmq"])
def any_broker_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A deployment on PostgreSQL and each broker."""
    yield from _cluster(tmp_path, REDIS_URL if request.param == "redis" else AMQP_URL)


@dataclass
class HookServer:
    """A loopback HTTP server standing in for a webhook receiver; counts what it gets."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[HookServer]:
    box: list[HookServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            box[0].bodies.append(json.loads(body or b"{}"))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(HookServer(f"http://127.0.0.1:{httpd.server_address[1]}/hook"))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield box[0]
    httpd.shutdown()
    httpd.server_close()
