"""Processes runwatch started: who supervises a run or attempt, an attempt's own, and
signalling a leftover attempt's process group (the store records; it never kills).

A supervisor's identity is ``host:pid:start`` where ``start`` is the process start time
from ``/proc``, so a recycled pid is not mistaken for the original process. An attempt's
process is recorded with its pid and ``process_start``: the boot and the start time, so
a leftover is signalled only while its pid still names that same process.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from functools import cache

KEEPER_MODULE = "runner.executors.local.keeper_process"
"""The keeper's module, on its command line: how a scheduler recognises a command's keeper
(runner.exitstatus)."""
GONE_DEADLINE_SECONDS = 10.0
"""How long a killed process group may take to be gone before the takeover waits a pass."""
_POLL_SECONDS = 0.02

# States of a process that has exited but not been reaped: it supervises nothing.
_DEAD_STATES = (b"Z", b"X", b"x")


def _stat_fields(pid: int | str) -> list[bytes]:
    """The fields of ``/proc/PID/stat`` after the command name, from the state on
    (empty when the process is gone)."""
    try:  # os.open and os.read: a file object costs more than the read (the keeper's spawn)
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        stat = os.read(fd, 4096)  # one line, well under a page
    except OSError:
        return []
    finally:
        os.close(fd)
    # The command name (field 2) may contain spaces and parentheses; fields after it don't.
    return stat[stat.rfind(b")") + 2 :].split()


def _start_ticks(pid: int) -> str | None:
    """The start time of a live process, or None if it is gone (or a zombie)."""
    fields = _stat_fields(pid)
    if len(fields) < 20 or fields[0] in _DEAD_STATES:
        return None
    return fields[19].decode()


def parent_of(pid: int) -> int | None:
    """The parent pid of a process, or None if it is gone."""
    fields = _stat_fields(pid)
    return int(fields[1]) if len(fields) > 1 else None


def command_line(pid: int) -> list[bytes]:
    """The arguments a process was started with (empty when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


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


def group_running(pgid: int) -> bool:
    """True while a process of the group has not exited (zombies have: they run nothing)."""
    group = str(pgid).encode()
    with os.scandir("/proc") as entries:
        names = [e.name for e in entries if e.name.isdigit()]
    for name in names:
        fields = _stat_fields(name)
        if len(fields) > 2 and fields[2] == group and fields[0] not in _DEAD_STATES:
            return True
    return False


def wait_group_gone(pgid: int, deadline_seconds: float = GONE_DEADLINE_SECONDS) -> bool:
    """Poll until no process of the group runs; False if some still does at the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while group_running(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def kill_group(pid: int, recorded_start: str | None, owner: str) -> bool | None:
    """SIGKILL the process group ``pid`` of an attempt ``owner`` supervised, if it still
    runs on this host as the process recorded, and wait until it is gone. None when
    nothing was signalled; else whether the group is gone.

    Executors start each attempt in a session of its own, so its pid is its process
    group. Never signals a group that cannot be the attempt's: one on another host,
    pids 0 and 1 (``killpg`` would hit this process's own group or init), this process's
    group, ``owner`` itself (an in-process attempt records the supervisor's pid), and a
    pid that no longer names the process started at ``recorded_start`` (the pid was
    reused, or the row never came from a process runwatch started).
    """
    import logging  # only on recovery's path: wrap imports this module and not logging

    logger = logging.getLogger(__name__)
    if not is_local(owner):
        return None
    parsed = parse(owner)
    if pid <= 1 or pid == os.getpgrp() or (parsed is not None and parsed[1] == pid):
        return None
    started = process_start(pid)
    if started is None:
        return None  # gone already
    if started != recorded_start:
        logger.warning(
            "not killing pid %s: it is not the process the attempt started "
            "(recorded start %s, this one started %s)",
            pid, recorded_start or "unknown", started,
        )  # fmt: skip
        return None
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return None
    except PermissionError:
        logger.warning("not allowed to kill process group %s of an orphaned attempt", pid)
        return None
    return wait_group_gone(pid)
