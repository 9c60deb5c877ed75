"""Identify processes: the one that supervises a run or attempt, and an attempt's own.

A supervisor's identity is ``host:pid:start`` where ``start`` is the process start time
from ``/proc``, so a recycled pid is not mistaken for the original process. An attempt's
process is recorded with its pid and ``process_start``: the boot and the start time, so
a leftover is signalled only while its pid still names that same process.
"""

from __future__ import annotations

import os
import socket
from functools import cache

# States of a process that has exited but not been reaped: it supervises nothing.
_DEAD_STATES = (b"Z", b"X", b"x")


def _start_ticks(pid: int) -> str | None:
    """The start time of a live process, or None if it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after it don't.
    fields = stat[stat.rfind(b")") + 2 :].split()
    if len(fields) < 20 or fields[0] in _DEAD_STATES:
        return None
    return fields[19].decode()


@cache
def _boot_id() -> str:
    """This boot's random id: start times count clock ticks since boot, so they repeat."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            return f.read().strip().decode()
    except OSError:
        return "unknown-boot"


def process_start(pid: int) -> str | None:
    """When a live process started, as ``<boot id>:<clock ticks since boot>``; None if gone."""
    start = _start_ticks(pid)
    return None if start is None else f"{_boot_id()}:{start}"


def identity_of(pid: int) -> str | None:
    """The identity of a live process on this host, or None if it is gone."""
    start = _start_ticks(pid)
    return None if start is None else f"{socket.gethostname()}:{pid}:{start}"


@cache
def current() -> str:
    """This process's identity."""
    ident = identity_of(os.getpid())
    return ident or f"{socket.gethostname()}:{os.getpid()}:0"


# A forked child (multiprocessing, Celery prefork) is a process of its own.
os.register_at_fork(after_in_child=current.cache_clear)


def parse(identity: str) -> tuple[str, int, str] | None:
    """``(host, pid, start)`` of an identity, or None when it is not one."""
    parts = identity.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


def is_local(identity: str) -> bool:
    """True when the identity names a process on this host."""
    parsed = parse(identity)
    return parsed is not None and parsed[0] == socket.gethostname()


def is_alive(identity: str) -> bool:
    """True unless the identity names a process on this host that no longer exists.

    Processes on other hosts are reported alive: their liveness is judged by heartbeat.
    An identity that cannot be read is reported alive too: never fail what we can't judge.
    """
    parsed = parse(identity)
    if parsed is None or parsed[0] != socket.gethostname():
        return True
    _, pid, start = parsed
    return _start_ticks(pid) == start
