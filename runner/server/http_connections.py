"""The connections the HTTP server holds: bounded in number, each request on a deadline,
served by a fixed pool of threads (none is started per connection).

A slow or idle client must not hold a thread and a file descriptor for long: a request
whose headers and body have not arrived within the deadline is cut off, and when every
slot is taken a new connection pushes out the oldest one still waiting for its request
(an idle flood cannot lock ``/healthz`` out). Only when every slot is busy *handling* a
request is a new connection refused — closed at once, so it costs no thread.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import HTTPServer
from typing import Any

logger = logging.getLogger(__name__)

HARD_LIMIT_FACTOR = 2
"""A connection cut off while a worker serves it lingers until the worker notices; at
most this many times the limit exist at once, counting those (queued ones close at once)."""


@dataclass
class _Slot:
    deadline: float
    reading: bool = True
    """Still waiting for its request (subject to the deadline, may be pushed out)."""
    claimed: bool = False
    """A worker serves it (else it still waits in the queue)."""
    cut: bool = False


class ConnectionGate:
    """Admits, times and cuts off the server's connections (thread-safe)."""

    def __init__(
        self,
        limit: int,
        deadline_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or deadline_seconds <= 0:
            raise ValueError("a connection gate needs a limit >= 1 and a deadline > 0")
        self.limit = limit
        self.deadline_seconds = deadline_seconds
        self.clock = clock
        self._slots: dict[socket.socket, _Slot] = {}
        self._lock = threading.Lock()
        self.refused = 0
        """Connections closed on arrival because every slot was busy."""
        self.cut_off = 0
        """Connections cut off: past their deadline, or pushed out by a newer one."""

    def admit(self, conn: socket.socket) -> bool:
        """True when ``conn`` may be served; False when it must be closed now."""
        with self._lock:
            live = [s for s in self._slots.items() if not s[1].cut]
            if len(live) >= self.limit:
                waiting = [item for item in live if item[1].reading]
                oldest = min(waiting, key=lambda item: item[1].deadline, default=None)
                lingering = len(self._slots) >= HARD_LIMIT_FACTOR * self.limit
                if oldest is None or (oldest[1].claimed and lingering):
                    self.refused += 1
                    return False
                self._cut(*oldest)
            self._slots[conn] = _Slot(self.clock() + self.deadline_seconds)
            return True

    def claim(self, conn: socket.socket) -> bool:
        """A worker takes ``conn`` from the queue: False when it was closed meanwhile."""
        with self._lock:
            slot = self._slots.get(conn)
            if slot is None:
                return False
            slot.claimed = True
            return True

    def received(self, conn: socket.socket) -> None:
        """The request has arrived whole: from now on the handler's time is its own."""
        with self._lock:
            slot = self._slots.get(conn)
            if slot is not None:
                slot.reading = False

    def release(self, conn: socket.socket) -> None:
        """Forget ``conn`` (its handler is done); idempotent."""
        with self._lock:
            self._slots.pop(conn, None)

    def expire(self) -> None:
        """Cut off every connection whose request is late."""
        now = self.clock()
        with self._lock:
            for conn, slot in list(self._slots.items()):
                if slot.reading and not slot.cut and slot.deadline <= now:
                    self._cut(conn, slot)

    @property
    def open(self) -> int:
        """Connections held right now (cut ones whose thread has not ended included)."""
        with self._lock:
            return len(self._slots)

    def _cut(self, conn: socket.socket, slot: _Slot) -> None:
        self.cut_off += 1
        if not slot.claimed:  # still queued: close it now, its worker will skip it
            del self._slots[conn]
            conn.close()
            return
        slot.cut = True
        try:
            # The plain socket's shutdown, also for TLS: it wakes the blocked reader
            # without touching the TLS state another thread is using.
            socket.socket.shutdown(conn, socket.SHUT_RDWR)
        except OSError as exc:
            logger.debug("cutting off a connection: %s", exc)


class GatedHTTPServer(HTTPServer):
    """An HTTPServer whose accepted connections pass the gate, then wait for one of a
    fixed number of worker threads; TLS handshakes happen on the worker, on the clock."""

    request_queue_size = 128
    gate: ConnectionGate
    tls: ssl.SSLContext | None = None

    def start_workers(
        self, gate: ConnectionGate, workers: int, tls: ssl.SSLContext | None = None
    ) -> None:
        """Start the pool; call once, before serving."""
        self.gate, self.tls = gate, tls
        self._waiting: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._work, name=f"runwatch-http-{n}", daemon=True)
            for n in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept; wrap in TLS without handshaking (the worker does, under the deadline)."""
        conn, address = super().get_request()
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, address

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Admitted by the gate (else closed at once)."""
        return self.gate.admit(request)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to the pool."""
        self._waiting.put((request, client_address))

    def _work(self) -> None:
        while (item := self._waiting.get()) is not None:
            request, client_address = item
            if not self.gate.claim(request):
                continue
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def service_actions(self) -> None:
        """Cut off late requests (run by serve_forever between requests and polls)."""
        self.gate.expire()

    def shutdown_request(self, request: Any) -> None:
        """Close the connection and free its slot."""
        self.gate.release(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client cut off, gone or speaking no TLS: its problem, one debug line."""
        logger.debug("connection from %s failed", client_address, exc_info=True)

    def server_close(self) -> None:
        """Close the socket and let the workers go (connections they serve end first)."""
        super().server_close()
        if not hasattr(self, "_waiting"):  # closed by a failed bind, before start_workers
            return
        while True:  # connections nobody will serve now
            try:
                item = self._waiting.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.shutdown_request(item[0])
        for _ in self._workers:
            self._waiting.put(None)
