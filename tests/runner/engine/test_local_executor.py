"""Command attempts through the LocalExecutor: real subprocesses, real process groups."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runner.executors.local.capture import TAIL_BYTES
from runner.model import Task, TaskState

ROOT = Path(__file__).resolve().parents[3]


def test_exit_zero_is_success(attempts):
    outcome = attempts.run(Task("t", command=("true",)))

    assert (outcome.state, outcome.exit_code, outcome.error) == (TaskState.SUCCESS, 0, None)


def test_launched_carries_the_pid_of_the_process_group_the_command_runs_in(attempts):
    # The command's keeper leads the group (runner.executors.local.keeper); field 5 of stat is it.
    spec = attempts.submit(Task("t", command="cut -d' ' -f5 /proc/$$/stat"))

    launched = attempts.launched(spec)
    attempts.finished(spec)

    assert spec.stdout_path.read_text() == f"{launched.pid}\n"


def test_nonzero_exit_is_failed_with_exit_code_and_stderr_tail(attempts):
    outcome = attempts.run(Task("t", command="echo out; echo broken >&2; exit 3"))

    assert outcome.state is TaskState.FAILED
    assert (outcome.exit_code, outcome.reason, outcome.error) == (3, "exit code 3", "broken")


def test_skip_exit_code_is_skipped(attempts):
    outcome = attempts.run(Task("t", command="exit 99", skip_exit_code=99))

    assert (outcome.state, outcome.exit_code) == (TaskState.SKIPPED, 99)
    assert outcome.reason == "exit code 99 (skip)"


def test_death_by_signal_is_failed_with_the_signal(attempts):
    outcome = attempts.run(Task("t", command="kill -9 $$"))

    assert (outcome.state, outcome.signal, outcome.exit_code) == (TaskState.FAILED, 9, None)
    assert outcome.reason == "killed by signal 9 (SIGKILL)"


def test_command_not_found_is_failed_with_127_not_raised(attempts):
    outcome = attempts.run(Task("t", command=("nope-no-such-command", "x")))

    assert (outcome.state, outcome.exit_code) == (TaskState.FAILED, 127)
    assert outcome.error == "command not found: 'nope-no-such-command'"


def test_shell_string_with_unknown_command_fails_with_the_shells_127(attempts):
    outcome = attempts.run(Task("t", command="nope-no-such-command"))

    assert (outcome.state, outcome.exit_code) == (TaskState.FAILED, 127)
    assert "nope-no-such-command" in outcome.error


def test_missing_working_directory_is_failed_not_raised(attempts, tmp_path):
    missing = str(tmp_path / "missing")

    outcome = attempts.run(Task("t", command=("true",), cwd=missing))

    assert (outcome.state, outcome.exit_code) == (TaskState.FAILED, 126)
    assert outcome.error == f"working directory not found: {missing!r}"


def test_program_without_execute_permission_is_failed_with_126(attempts, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\ntrue\n")

    outcome = attempts.run(Task("t", command=(str(script),)))

    assert (outcome.state, outcome.exit_code) == (TaskState.FAILED, 126)
    assert outcome.error == f"cannot run {str(script)!r}: Permission denied"


def test_command_runs_in_its_working_directory(attempts, tmp_path):
    spec = attempts.submit(Task("t", command=("pwd",), cwd=str(tmp_path)))

    assert attempts.finished(spec).state is TaskState.SUCCESS
    assert spec.stdout_path.read_text() == f"{tmp_path}\n"


def test_env_is_added_to_the_inherited_environment_with_traceparent(attempts):
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    spec = attempts.submit(
        Task("t", command='echo "$RUNWATCH_X $TRACEPARENT $PATH"'),
        env={"RUNWATCH_X": "1", "TRACEPARENT": traceparent},
    )

    attempts.finished(spec)

    output = spec.stdout_path.read_text().splitlines()[-1]
    assert output == f"1 {traceparent} {os.environ['PATH']}"


def test_argv_is_passed_without_a_shell(attempts):
    spec = attempts.submit(Task("t", command=("printf", "%s|", "a b", "$HOME", "*")))

    attempts.finished(spec)

    assert spec.stdout_path.read_text() == "a b|$HOME|*|"


def test_a_command_inherits_no_descriptor_but_its_three_streams(attempts):
    # The keeper's socket to its parent, above all: a command could speak for the keeper.
    spec = attempts.submit(Task("t", command=("ls", "/proc/self/fd")))

    attempts.finished(spec)

    # ls's own descriptor on the folder it lists is the fourth.
    assert spec.stdout_path.read_text().split() == ["0", "1", "2", "3"]


def test_stdin_is_empty_without_passthrough(attempts):
    outcome = attempts.run(Task("t", command=("cat",)))

    assert outcome.state is TaskState.SUCCESS


def test_output_past_the_cap_is_counted_and_noted_not_written(attempts):
    spec = attempts.submit(Task("t", command="printf '%05000d' 0"), log_cap_bytes=1000)

    attempts.finished(spec)

    assert spec.stdout_path.read_bytes() == b"0" * 1000 + (
        b"\n[runwatch] output truncated: 4000 more bytes not written (cap 1000 bytes)\n"
    )


def test_error_is_the_last_twenty_lines_of_stderr(attempts):
    outcome = attempts.run(Task("t", command="seq 1 100 >&2; exit 1"))

    assert outcome.error == "\n".join(str(n) for n in range(81, 101))


def test_error_tail_is_bounded_in_bytes(attempts):
    outcome = attempts.run(Task("t", command="head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1"))

    assert outcome.error == "x" * TAIL_BYTES


def test_binary_output_is_kept_byte_for_byte(attempts):
    data = bytes(range(256)) * 64
    spec = attempts.submit(Task("t", command=(sys.executable, "-c", _WRITE_ALL_BYTES)))

    attempts.finished(spec)

    assert spec.stdout_path.read_bytes() == data
    assert spec.stderr_path.read_bytes() == data[::-1]


_WRITE_ALL_BYTES = """
import sys
data = bytes(range(256)) * 64
sys.stdout.buffer.write(data)
sys.stderr.buffer.write(data[::-1])
"""


def test_no_log_file_is_written_without_a_path(attempts):
    outcome = attempts.run(
        Task("t", command="echo gone; echo kept >&2; exit 1"), stdout_path=None, stderr_path=None
    )

    assert outcome.error == "kept"
    assert not attempts.logs.exists()


_PASSTHROUGH_SCRIPT = """
import os, queue, sys
from datetime import UTC, datetime
from pathlib import Path
from runner.engine.executor import AttemptSpec, AttemptFinished
from runner.executors.local.executor import LocalExecutor
from runner.model import Task

def emit():
    os.write(1, b"\\x00python\\xff")
    os.write(2, b"python err\\n")

code = "import sys; sys.stdout.buffer.write(bytes(range(256)) * 300); sys.exit('e')"
tasks = [Task("c", command=(sys.executable, "-c", code)), Task("p", python=emit)]
messages = queue.SimpleQueue()
executor = LocalExecutor(messages)
for key, task in enumerate(tasks):
    executor.submit(AttemptSpec(
        key=key, job="j", task=task, run_id=1, attempt=1, logical_time=datetime.now(UTC),
        env={}, stdout_path=Path(sys.argv[1]) / task.name, stderr_path=None, passthrough=True))
    while not isinstance(messages.get(timeout=10), AttemptFinished):
        pass
executor.shutdown()
"""


def test_passthrough_copies_output_byte_for_byte_to_our_stdout_and_stderr(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _PASSTHROUGH_SCRIPT, str(tmp_path)],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
        check=True,
    )

    command_output = bytes(range(256)) * 300
    assert done.stdout == command_output + b"\x00python\xff"
    assert done.stderr == b"e\npython err\n"
    assert (tmp_path / "c").read_bytes() == command_output
    assert (tmp_path / "p").read_bytes() == b"\x00python\xff"


def test_grandchild_holding_the_pipes_open_does_not_hang_the_attempt(attempts):
    started = time.monotonic()
    spec = attempts.submit(Task("t", command="echo before; sleep 60 & echo after; exit 4"))

    outcome = attempts.finished(spec)

    assert time.monotonic() - started < 30  # not held until the grandchild's 60 s end
    assert (outcome.state, outcome.exit_code) == (TaskState.FAILED, 4)
    assert spec.stdout_path.read_text() == "before\nafter\n"


def test_time_out_kills_the_process_group_including_a_child_ignoring_sigterm(attempts):
    spec = attempts.submit(
        Task("t", command="(trap '' TERM; exec sleep 30) & echo $!; wait"), kill_grace=0.3
    )
    child = int(attempts.wait_for_line(spec.stdout_path))

    started = time.monotonic()
    attempts.executor.time_out(spec.key)
    outcome = attempts.finished(spec)

    assert (outcome.state, outcome.reason, outcome.signal) == (TaskState.TIMED_OUT, "timed out", 15)
    assert time.monotonic() - started >= 0.3  # the child outlived SIGTERM until the SIGKILL
    assert attempts.wait_gone(child, timeout=2)


def test_time_out_sigkills_a_process_that_ignores_sigterm(attempts):
    spec = attempts.submit(
        Task("t", command="trap '' TERM; echo ready; while :; do sleep 0.05; done"), kill_grace=0.2
    )
    attempts.wait_for_line(spec.stdout_path)

    attempts.executor.time_out(spec.key)
    outcome = attempts.finished(spec)

    assert (outcome.state, outcome.signal) == (TaskState.TIMED_OUT, signal.SIGKILL)


def test_cancel_reports_cancelled_with_the_reason(attempts):
    spec = attempts.submit(Task("t", command=("sleep", "30")))
    attempts.launched(spec)

    attempts.executor.cancel(spec.key, reason="cancelled by alice")
    outcome = attempts.finished(spec)

    assert (outcome.state, outcome.reason) == (TaskState.CANCELLED, "cancelled by alice")


def test_cancel_right_after_submit_still_reports_once(attempts):
    specs = [attempts.submit(Task("t", command=("sleep", "30"))) for _ in range(5)]
    for spec in specs:
        attempts.executor.cancel(spec.key, reason="stop")

    assert {attempts.finished(spec).state for spec in specs} == {TaskState.CANCELLED}


def test_cancel_of_a_finished_attempt_is_ignored(attempts):
    spec = attempts.submit(Task("t", command=("true",)))
    attempts.finished(spec)

    attempts.executor.cancel(spec.key, reason="late")


def test_attempts_run_concurrently(attempts):
    command = "date +%s.%N; sleep 0.3; date +%s.%N"
    specs = [attempts.submit(Task("t", command=command)) for _ in range(6)]
    for spec in specs:
        assert attempts.finished(spec).state is TaskState.SUCCESS

    spans = [[float(t) for t in spec.stdout_path.read_text().split()] for spec in specs]
    assert max(start for start, _ in spans) < min(end for _, end in spans)


def test_shutdown_cancels_running_attempts_and_is_idempotent(attempts):
    spec = attempts.submit(Task("t", command=("sleep", "30")))
    attempts.launched(spec)

    attempts.executor.shutdown()
    attempts.executor.shutdown()

    assert (attempts.finished(spec).state, attempts.finished(spec).reason) == (
        TaskState.CANCELLED,
        "shutdown",
    )


def test_submit_after_shutdown_reports_cancelled(attempts):
    attempts.executor.shutdown()

    outcome = attempts.run(Task("t", command=("true",)))

    assert (outcome.state, outcome.reason) == (TaskState.CANCELLED, "shutdown")
