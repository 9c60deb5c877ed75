"""The wrapped command's process: capture caps, tails, timeouts (in this process)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from runner.wrap.process import TAIL_BYTES, Command, Output, SpawnError


def run(argv: list[str], tmp_path: Path, *, cap: int = 1 << 20, **kwargs: float) -> Command:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    out = Output(write_end, str(tmp_path / "logs" / "out"), cap)
    err = Output(None, str(tmp_path / "logs" / "err"), cap)
    command = Command(argv, env=dict(os.environ), stdout=out, stderr=err, **kwargs)
    command.start()
    command.outcome = command.wait()  # type: ignore[attr-defined]
    os.close(write_end)
    os.close(read_end)
    return command


def test_the_log_stops_at_the_cap_with_a_notice_and_the_tail_is_the_last_lines(
    tmp_path: Path,
) -> None:
    code = "import sys\nfor i in range(5000): print(f'line {i}', file=sys.stderr)"

    command = run([sys.executable, "-c", code], tmp_path, cap=1000)

    assert command.stderr is not None
    log = (tmp_path / "logs" / "err").read_text()
    assert log.startswith("line 0\n")
    assert log.endswith("(cap 1000 bytes)\n")
    assert "[runwatch] output truncated:" in log
    tail = command.stderr.tail()
    assert tail is not None
    assert tail.splitlines() == [f"line {i}" for i in range(4980, 5000)]
    assert len(tail) < TAIL_BYTES


def test_a_silent_command_leaves_no_log_file_and_no_tail(tmp_path: Path) -> None:
    command = run(["true"], tmp_path)

    assert not (tmp_path / "logs").exists()
    assert command.stdout.tail() is None


def test_a_timeout_stops_the_command_and_its_children(tmp_path: Path) -> None:
    started = time.monotonic()

    command = run(["sh", "-c", "sleep 30 & sleep 30"], tmp_path, timeout=0.2, kill_grace=0.5)

    assert command.outcome.timed_out  # type: ignore[attr-defined]
    assert time.monotonic() - started < 5


def test_a_command_that_cannot_run_is_a_spawn_error(tmp_path: Path) -> None:
    out = Output(None, None, 0)

    with pytest.raises(SpawnError) as missing:
        Command(["/no/such/program"], env={}, stdout=out, stderr=None).start()
    not_executable = tmp_path / "plain.txt"
    not_executable.write_text("")
    with pytest.raises(SpawnError) as denied:
        Command([str(not_executable)], env={}, stdout=out, stderr=None).start()

    assert missing.value.exit_status == 127
    assert denied.value.exit_status == 126
