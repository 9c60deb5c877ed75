"""Supervisor identities: who runs a run, and whether that process still lives."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess

import pytest

from runner import processes


def test_this_process_is_alive_and_local() -> None:
    me = processes.current()

    assert me == processes.identity_of(os.getpid())
    assert me.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert processes.is_local(me)
    assert processes.is_alive(me)


def test_an_exited_process_is_dead_even_before_it_is_reaped() -> None:
    child = subprocess.Popen(["sleep", "60"])
    ident = processes.identity_of(child.pid)
    assert ident is not None
    assert processes.is_alive(ident)

    child.kill()
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # a zombie now, not reaped
        assert processes.identity_of(child.pid) is None
        assert not processes.is_alive(ident)
    finally:
        child.wait(timeout=10)
    assert not processes.is_alive(ident)


def test_a_recycled_pid_is_not_the_same_process() -> None:
    host, pid, start = processes.parse(processes.current()) or ("", 0, "")

    assert not processes.is_alive(f"{host}:{pid}:{int(start) + 1}")


@pytest.mark.parametrize(
    "identity", ["", "garbage", f"{socket.gethostname()}:abc:1", "other.example:1:2"]
)
def test_identities_that_cannot_be_judged_here_count_as_alive(identity: str) -> None:
    assert processes.is_alive(identity)


def test_hosts_with_colons_in_their_name_parse() -> None:
    assert processes.parse("fe80::1:42:999") == ("fe80::1", 42, "999")
    assert processes.parse("no-pid") is None


def _report_identity(queue: multiprocessing.Queue[str]) -> None:
    queue.put(processes.current())


def test_a_forked_child_has_its_own_identity() -> None:
    parent = processes.current()
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_report_identity, args=(queue,))
    child.start()
    ident = queue.get(timeout=10)
    child.join(timeout=10)

    assert ident != parent
    assert ident.split(":")[-2] == str(child.pid)
