"""The keeper process itself, through a real KeeperClient: its PATH lookup (its own, as
``shutil.which`` does it) and the warnings it hands to its parent to log."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from runner.executors.local.keeper import KeeperClient
from runner.executors.local.keeper_process import FOUND_SECONDS, Programs
from tests.runner.engine.conftest import Replies


def run(
    client: KeeperClient, replies: Replies, argv: list[str], env: dict[str, str], **logs: str
) -> tuple[Any, ...]:
    """The keeper's last word on the command: ("ended", …) or ("failed", …)."""
    client.spawn(
        1, argv, env, None, logs=(logs.get("stdout"), None), cap_bytes=1024, header=b"",
        status=None, passthrough=False,
    )  # fmt: skip
    while True:
        reply = replies.get(timeout=30)
        if reply[0] in ("ended", "failed"):
            return reply


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_program_is_looked_up_in_the_commands_path_skipping_what_cannot_run_it(
    tmp_path: Path, client: KeeperClient, replies: Replies
) -> None:
    first, second, third = (tmp_path / name for name in ("first", "second", "third"))
    for folder in (first, second, third):
        folder.mkdir()
    (first / "tool").write_text("#!/bin/sh\nexit 5\n")  # not executable: skipped
    (second / "tool").mkdir()  # a folder: skipped
    executable(third / "tool", "#!/bin/sh\nexit 7\n")
    path = os.pathsep.join([str(first), str(second), str(first), str(third), "/bin"])

    reply = run(client, replies, ["tool"], {"PATH": path})

    assert reply[:3] == ("ended", 1, 7)


@pytest.mark.parametrize("path", ["", "/nonexistent-folder"])
def test_a_program_on_no_folder_of_the_path_is_not_found(
    path: str, client: KeeperClient, replies: Replies
) -> None:
    reply = run(client, replies, ["true"], {"PATH": path})

    assert reply[0] == "failed"
    assert (reply[2], reply[4]) == (2, "true")  # ENOENT, the program's name


def test_the_keepers_warnings_are_logged_by_its_parent(
    tmp_path: Path, client: KeeperClient, replies: Replies, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    stdout = tmp_path / "not-a-folder" / "t.out"

    with caplog.at_level(logging.WARNING, logger="runner.executors.local.keeper"):
        reply = run(client, replies, ["echo", "hello"], dict(os.environ), stdout=str(stdout))

    assert reply[:3] == ("ended", 1, 0)
    assert f"cannot open log file {stdout}, output not kept" in caplog.text


def test_a_program_found_is_run_from_there_for_a_second_then_looked_up_again(
    tmp_path: Path,
) -> None:
    early, late = tmp_path / "early", tmp_path / "late"
    early.mkdir()
    late.mkdir()
    executable(late / "tool", "#!/bin/sh\n")
    now = [100.0]
    programs = Programs(clock=lambda: now[0])
    path = os.pathsep.join([str(early), str(late)])
    assert programs.find("tool", path) == str(late / "tool")
    executable(early / "tool", "#!/bin/sh\n")  # installed earlier on the PATH
    assert programs.find("tool", path) == str(late / "tool")  # a burst looks once
    assert programs.find("tool", str(early)) == str(early / "tool")  # another PATH: its own
    now[0] += FOUND_SECONDS
    assert programs.find("tool", path) == str(early / "tool")


def test_a_program_found_through_a_relative_folder_is_looked_up_each_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable(tmp_path / "tool", "#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    programs = Programs(clock=lambda: 0.0)
    assert programs.find("tool", ".") == os.path.join(".", "tool")
    monkeypatch.chdir(tmp_path.parent)  # the next command's cwd, say: no tool there
    assert programs.find("tool", ".") is None
