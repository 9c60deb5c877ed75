"""The executor's end of its keeper (runner.executors.local.keeper_process).

The keeper is started at the first command (or taken from an early start,
runner.executors.local.keeper_launch), once, and is the parent of every command after
it; this side sends requests over a socket and hears, on one thread of its own, when
each command was launched and how it ended. Sending is one ``sendmsg``: the caller (the
engine's thread) never waits for a spawn. If the keeper dies, every command it was
running is reported to ``on_lost`` and the next request starts a new keeper.
"""

from __future__ import annotations

import logging
import marshal
import os
import socket
import subprocess
import threading
import weakref
from collections.abc import Callable
from typing import Any

from runner.executors.local.keeper_launch import (
    MESSAGE_BYTES,
    KeeperLostError,
    launch,
    take_early,
)

logger = logging.getLogger(__name__)

Reply = tuple[Any, ...]


class KeeperClient:
    """Talks to one keeper process; thread-safe."""

    def __init__(self, on_reply: Callable[[Reply], None], on_lost: Callable[[], None]) -> None:
        self._on_reply = on_reply
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        _clients.add(self)

    def spawn(
        self,
        key: int,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        *,
        logs: tuple[str | None, str | None],
        cap_bytes: int,
        header: bytes,
        status: str | None,
        passthrough: bool,
        fence: float | None = None,
    ) -> None:
        """Ask for the command to be run; KeeperLostError if the keeper cannot be reached.
        With ``fence``, the keeper stops it that many seconds after this process hung up
        unless its status file is renewed (runner.executors.local.keeper_process)."""
        request = (
            "spawn", key, argv, env, cwd, *logs, cap_bytes, header, status, passthrough, fence
        )  # fmt: skip
        self._send(request, [0, 1, 2] if passthrough else [])

    def stop(self, key: int, grace: float) -> None:
        """Ask for the command's group to be stopped (SIGTERM, grace, SIGKILL)."""
        self._send(("stop", key, grace), [])

    def close(self) -> None:
        """Hang up: the keeper exits once its commands have ended."""
        with self._lock:
            sock, self._socket = self._socket, None
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _send(self, request: tuple[Any, ...], fds: list[int]) -> None:
        data = marshal.dumps(request)
        if len(data) > MESSAGE_BYTES:
            raise ValueError(f"command and environment too large ({len(data)} bytes)")
        with self._lock:
            sock = self._socket or self._start()
            try:
                socket.send_fds(sock, [data], fds) if fds else sock.send(data)
            except OSError as exc:
                raise KeeperLostError(f"cannot reach the keeper process: {exc}") from exc

    def _start(self) -> socket.socket:
        """With the lock held: start a keeper (or take the one started early) and the
        thread that hears it."""
        ours, self._process = take_early() or launch()
        self._socket = ours
        threading.Thread(
            target=self._hear, args=(ours, self._process), name="runwatch-keeper", daemon=True
        ).start()
        return ours

    def _hear(self, sock: socket.socket, process: subprocess.Popen[bytes]) -> None:
        buffer = memoryview(bytearray(MESSAGE_BYTES))  # one buffer: no 256 KiB map per message
        while True:
            try:
                size = sock.recv_into(buffer)
            except OSError:
                size = 0
            if not size:
                break
            replies = marshal.loads(buffer[:size])  # noqa: S302 - a socketpair: only our keeper writes
            for reply in replies:
                self._heard(reply)
        with self._lock:
            closed = self._socket is not sock
            if not closed:
                self._socket = None
        sock.close()
        if not closed:
            logger.error("the keeper process %d ended unexpectedly", process.pid)
            self._on_lost()
        process.wait()  # hung up on, it exits once its commands have ended

    def _heard(self, reply: Reply) -> None:
        if reply[0] == "error":
            logger.error("the keeper process failed: %s", reply[1])
        elif reply[0] == "warning":  # the keeper's own (a log file that had to be replaced…)
            logger.warning("%s", reply[1])
        else:
            try:
                self._on_reply(reply)
            except Exception:  # one bad reply must not deafen us to the others
                logger.exception("handling the keeper's reply %r failed", reply[:2])

    def forget_in_child(self) -> None:
        """In a forked child (a Python worker): drop the keeper's socket, so that the child
        does not keep it open (the keeper would wait for it) or use it."""
        sock, self._socket = self._socket, None
        self._lock = threading.Lock()
        if sock is not None:
            os.close(sock.detach())


_clients: weakref.WeakSet[KeeperClient] = weakref.WeakSet()


def _forget_in_child() -> None:
    for client in list(_clients):
        client.forget_in_child()


os.register_at_fork(after_in_child=_forget_in_child)
