"""Brokers a fault test may lose messages of: a Redis server of its own, without
persistence (killed and restarted empty), and the queue of a test on the shared RabbitMQ
(purged; the shared server itself is never restarted)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from pathlib import Path

from tests.distributed.conftest import wait_until
from tests.e2e.cli import free_port


class PrivateRedis:
    """A `redis-server` on a free loopback port that keeps nothing on disk."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start it (empty) and wait until it answers PING."""
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.tmp)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, f"redis-server on port {self.port} to answer", 20)

    def answers(self) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, f"redis-server exited {self.proc.returncode}"
        return self.command("PING") == "+PONG"

    def command(self, *words: str) -> str:
        """One inline command's first reply line ("" when it cannot be reached)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                conn.sendall(" ".join(words).encode() + b"\r\n")
                return conn.makefile("rb").readline().decode().strip()
        except OSError:
            return ""

    def queued(self, queue: str) -> int:
        """How many messages wait in ``queue`` (kombu keeps a queue as a Redis list)."""
        reply = self.command("LLEN", queue)
        return int(reply[1:]) if reply.startswith(":") else 0

    def kill(self) -> None:
        """SIGKILL it and reap it: whatever it held is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def restart_empty(self) -> None:
        """Kill it and start it again on the same port, empty."""
        self.kill()
        self.start()


def rabbit_queued(url: str, queue: str) -> int:
    """How many messages wait in ``queue`` on RabbitMQ (0 while it does not exist)."""
    from kombu import Connection

    with Connection(url, connect_timeout=3) as connection:
        channel = connection.channel()
        with contextlib.suppress(Exception):  # not declared yet
            return int(channel.queue_declare(queue, passive=True).message_count)
        return 0


def rabbit_purge(url: str, queue: str) -> int:
    """Drop every message waiting in ``queue``; how many went."""
    from kombu import Connection

    with Connection(url, connect_timeout=3) as connection:
        return int(connection.default_channel.queue_purge(queue) or 0)
