"""The status file a keeper writes beside an attempt's logs (runner.statusfile) and what
recovery reads back from it (runner.exitstatus), with a real keeper process."""

from __future__ import annotations

import os
import queue
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner import exitstatus, processes, statusfile
from runner.executors.local.keeper import KeeperClient

Replies = queue.SimpleQueue[tuple[Any, ...]]


@pytest.fixture
def keeper() -> Iterator[tuple[KeeperClient, Replies]]:
    replies: Replies = queue.SimpleQueue()
    client = KeeperClient(replies.put, lambda: None)
    yield client, replies
    client.close()


def spawn(keeper: KeeperClient, logs: Path, command: str) -> Path:
    stdout = logs / "task.1.stdout"
    status = Path(exitstatus.status_path(stdout))
    keeper.spawn(
        1, ["sh", "-c", command], dict(os.environ), None, logs=(str(stdout), None),
        cap_bytes=1 << 20, header=b"", status=str(status), passthrough=False,
    )  # fmt: skip
    return status


def reply(replies: Replies, kind: str) -> tuple[Any, ...]:
    found = replies.get(timeout=30)
    assert found[0] == kind, found
    return found


def test_the_status_file_names_the_running_command_then_tells_how_it_ended(
    keeper: tuple[KeeperClient, Replies], tmp_path: Path
) -> None:
    client, replies = keeper
    release = tmp_path / "release"
    status = spawn(client, tmp_path, f"while [ ! -e {release} ]; do sleep 0.02; done; exit 3")
    _, _, pid, start, traced = reply(replies, "launched")

    assert traced  # the keeper says the file names the command: recovery finds it there
    assert exitstatus.read_spawn(status) == exitstatus.Spawn(pid, start, spawning=False)
    assert exitstatus.read_status(status) is None  # it runs
    keeper_pid = processes.parent_of(pid)
    assert keeper_pid is not None

    release.touch()
    reply(replies, "ended")
    ended = exitstatus.read_status(status)
    assert ended is not None
    assert (ended.exit_code, ended.signal, ended.returncode) == (3, None, 3)
    assert abs(ended.ended_at - datetime.now(UTC)) < timedelta(seconds=30)
    keeper_line, command_line, exit_line = status.read_text().splitlines()
    assert keeper_line == f"{statusfile.KEEPER} {keeper_pid} {processes.process_start(keeper_pid)}"
    assert command_line == f"{statusfile.COMMAND} {pid} {start}"
    assert exit_line.split()[:3] == [statusfile.EXIT, "3", "-"]
    # One file told the whole story: nothing else was left beside the logs.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release", "task.1.status"]


def test_a_command_whose_status_file_cannot_be_written_is_launched_untraced(
    keeper: tuple[KeeperClient, Replies], tmp_path: Path
) -> None:
    client, replies = keeper
    (tmp_path / "task.1.status").mkdir()  # the name taken: the file cannot be created
    spawn(client, tmp_path, "exit 4")
    _, _, pid, _, traced = reply(replies, "launched")
    assert pid > 0  # it runs regardless
    assert not traced  # so the engine writes its process to the store at once
    assert reply(replies, "ended")[:3] == ("ended", 1, 4)


def test_a_command_killed_by_a_signal_is_recorded_with_the_signal(
    keeper: tuple[KeeperClient, Replies], tmp_path: Path
) -> None:
    client, replies = keeper
    status = spawn(client, tmp_path, "sleep 30")
    _, _, pid, _, _ = reply(replies, "launched")
    os.killpg(pid, signal.SIGKILL)
    reply(replies, "ended")
    ended = exitstatus.read_status(status)
    assert ended is not None
    assert (ended.exit_code, ended.signal, ended.returncode) == (None, 9, -9)


def test_only_whole_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "task.1.status"
    path.write_text(f"{statusfile.KEEPER} 4242 777\n{statusfile.COMMAND} 4243")
    assert exitstatus.read_spawn(path) == exitstatus.Spawn(4242, "777", spawning=True)
    path.write_text(f"{statusfile.KEEPER} 4242 777\n{statusfile.COMMAND} 4243 778\nexit 0 -")
    assert exitstatus.read_spawn(path) == exitstatus.Spawn(4243, "778", spawning=False)
    assert exitstatus.read_status(path) is None


def test_a_perl_keepers_one_line_status_still_reads_with_the_files_time(tmp_path: Path) -> None:
    path = tmp_path / "task.1.status"
    path.write_text("- 15\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    ended = exitstatus.read_status(path)
    assert ended == exitstatus.ExitStatus(None, 15, datetime.fromtimestamp(1_700_000_000, UTC))
    assert exitstatus.read_spawn(path) is None


@pytest.mark.parametrize("text", ["exit 0 0 1.5\n", "exit - - 1.5\n", "exit x - 1.5\n", ""])
def test_a_status_that_is_not_one_reads_as_none(tmp_path: Path, text: str) -> None:
    path = tmp_path / "task.1.status"
    path.write_text(text)
    assert exitstatus.read_status(path) is None


def test_the_file_is_never_written_through_a_link_planted_at_its_name(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    path = tmp_path / "task.1.status"
    path.symlink_to(target)
    fd = statusfile.begin(str(path), "1 2")
    assert fd is not None
    statusfile.ran(fd, 3, "4")
    statusfile.ended(fd, 0)
    assert target.read_text() == "keep me\n"
    assert not path.is_symlink()
    assert exitstatus.read_spawn(path) == exitstatus.Spawn(3, "4", spawning=False)
