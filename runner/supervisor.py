"""Identify the process that supervises a run or attempt, and tell whether it still lives.

An identity is ``host:pid:start`` where ``start`` is the process start time from
``/proc``, so a recycled pid is not mistaken for the original process.
"""

from __future__ import annotations

import os
import socket
from functools import cache


def _start_ticks(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after it don't.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode()


def identity_of(pid: int) -> str | None:
    """The identity of a live process on this host, or None if it is gone."""
    start = _start_ticks(pid)
    return None if start is None else f"{socket.gethostname()}:{pid}:{start}"


@cache
def current() -> str:
    """This process's identity."""
    ident = identity_of(os.getpid())
    return ident or f"{socket.gethostname()}:{os.getpid()}:0"


def is_local(identity: str) -> bool:
    """True when the identity names a process on this host."""
    return identity.rsplit(":", 2)[0] == socket.gethostname()


def is_alive(identity: str) -> bool:
    """True unless the identity names a process on this host that no longer exists.

    Processes on other hosts are reported alive: their liveness is judged by heartbeat.
    """
    if not is_local(identity):
        return True
    _, pid, start = identity.rsplit(":", 2)
    return _start_ticks(int(pid)) == start
