"""The keeper process's start: early (before `runwatch run`'s imports), taken by the first
client, a lean interpreter that a job folder's modules cannot shadow. Real keeper
processes, real commands."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner import processes
from runner.executors.local import keeper_launch
from runner.executors.local.keeper import KeeperClient
from tests.runner.engine.conftest import Replies


@pytest.fixture
def early() -> Iterator[int]:
    """A keeper started early: its pid. One left untaken is hung up on at the end."""
    keeper_launch.start_early()
    launched = keeper_launch._early.launched
    assert launched is not None
    yield launched[1].pid
    left = keeper_launch.take_early()
    if left is not None:
        left[0].close()
        left[1].wait(timeout=30)


def parent_of_a_command(client: KeeperClient, replies: Replies) -> int:
    """Run a command through the client: the pid of the keeper that was its parent."""
    client.spawn(
        1, ["sh", "-c", "cut -d' ' -f4 /proc/$$/stat >&2; exit 3"], dict(os.environ), None,
        logs=(None, None), cap_bytes=1024, header=b"", status=None, passthrough=False,
    )  # fmt: skip
    launched = replies.get(timeout=30)
    ended = replies.get(timeout=30)
    assert (launched[:2], ended[:3]) == (("launched", 1), ("ended", 1, 3))
    return int(ended[3])


def test_the_first_client_runs_its_commands_under_the_keeper_started_early(
    early: int, client: KeeperClient, replies: Replies
) -> None:
    assert parent_of_a_command(client, replies) == early
    assert keeper_launch.take_early() is None  # taken once: the next client starts its own


def test_a_keeper_started_early_that_died_is_replaced_at_the_first_command(
    early: int, client: KeeperClient, replies: Replies
) -> None:
    os.kill(early, signal.SIGKILL)
    launched = keeper_launch._early.launched
    assert launched is not None
    launched[1].wait(timeout=30)

    parent = parent_of_a_command(client, replies)

    assert parent != early
    assert os.fsencode(processes.KEEPER_MODULE) in processes.command_line(parent)


def test_a_forked_child_does_not_hold_the_early_keepers_socket(early: int) -> None:
    launched = keeper_launch._early.launched
    assert launched is not None
    fd = launched[0].fileno()

    pid = os.fork()
    if pid == 0:  # the child: the descriptor must be closed here
        try:
            os.fstat(fd)
        except OSError:
            os._exit(0)
        os._exit(1)

    assert os.waitpid(pid, 0)[1] == 0
    assert keeper_launch._early.launched is launched  # still there for this process


def test_modules_in_the_job_folder_do_not_shadow_the_keepers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: KeeperClient, replies: Replies
) -> None:
    for name in ("selectors", "socket", "runner"):
        (tmp_path / f"{name}.py").write_text("raise SystemExit('shadowed')\n")
    monkeypatch.chdir(tmp_path)

    parent = parent_of_a_command(client, replies)

    argv = processes.command_line(parent)
    assert argv[1:4] == [b"-S", b"-P", b"-m"]
