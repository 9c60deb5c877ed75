"""Python attempts through the LocalExecutor: forked workers, and threads with in_process."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from runner.model import Skip, Task, TaskState, UpstreamResult


def add(a, b, *, scale=1):
    print(f"adding {a} and {b}")
    return (a + b) * scale


def noisy():
    print("to stdout")
    sys.stdout.flush()
    os.write(1, b"fd 1\n")
    print("to stderr", file=sys.stderr)
    os.write(2, b"fd 2\n")
    return None


def fail():
    raise ValueError("the input is bad")


def skip(reason):
    raise Skip(reason)


def exit_with(code):
    sys.exit(code)


def die(code):
    os._exit(code)


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def started_and_ended(seconds):
    started = time.time()
    time.sleep(seconds)
    return [started, time.time()]


def environment_and_cwd():
    return [os.environ.get("RUNWATCH_TEST_VAR"), os.getcwd()]


def pid():
    return os.getpid()


def a_set():
    return {1, 2}


def too_large():
    return "x" * 70_000


def spawn_child_ignoring_sigterm(pid_file):
    child = subprocess.Popen(["sh", "-c", "trap '' TERM; exec sleep 30"], stdout=subprocess.DEVNULL)
    with open(pid_file, "w") as f:
        f.write(f"{child.pid}\n")
    time.sleep(30)


def trace_and_span_ids():
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return [format(context.trace_id, "032x"), format(context.span_id, "016x")]


def test_python_task_result_is_returned_as_json(attempts):
    outcome = attempts.run(Task("t", python=add, args=(2, 3), kwargs=(("scale", 10),)))

    assert (outcome.state, outcome.result) == (TaskState.SUCCESS, 50)


def test_upstream_results_replace_their_placeholders_in_args_and_kwargs(attempts):
    task = Task(
        "t", python=add, args=(UpstreamResult("a"), 1), kwargs=(("scale", UpstreamResult("b")),)
    )

    outcome = attempts.run(task, upstream_results={"a": 4, "b": 3})

    assert outcome.result == 15


def test_missing_upstream_result_fails_naming_it(attempts):
    outcome = attempts.run(Task("t", python=add, args=(UpstreamResult("a"), 1)))

    assert outcome.state is TaskState.FAILED
    assert outcome.error.splitlines()[-1] == (
        "LookupError: task 't': no result from upstream task 'a'"
    )


def test_output_of_a_python_task_goes_to_its_log_files(attempts):
    spec = attempts.submit(Task("t", python=noisy))

    assert attempts.finished(spec).state is TaskState.SUCCESS
    assert spec.stdout_path.read_text() == "to stdout\nfd 1\n"
    assert spec.stderr_path.read_text() == "to stderr\nfd 2\n"


def test_exception_fails_with_the_traceback_tail_ending_in_type_and_message(attempts):
    spec = attempts.submit(Task("t", python=fail))

    outcome = attempts.finished(spec)

    assert (outcome.state, outcome.reason) == (TaskState.FAILED, "raised ValueError")
    lines = outcome.error.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert "in fail" in outcome.error
    assert "pycall.py" not in outcome.error  # the traceback starts at the task's frame
    assert lines[-1] == "ValueError: the input is bad"
    assert spec.stderr_path.read_text().rstrip("\n").endswith("ValueError: the input is bad")


@pytest.mark.parametrize(("message", "reason"), [("no new data", "no new data"), ("", "skipped")])
def test_skip_raised_is_skipped_with_its_message_as_reason(attempts, message, reason):
    outcome = attempts.run(Task("t", python=skip, args=(message,)))

    assert (outcome.state, outcome.reason) == (TaskState.SKIPPED, reason)


@pytest.mark.parametrize("code", [0, None])
def test_sys_exit_with_zero_or_none_is_success(attempts, code):
    outcome = attempts.run(Task("t", python=exit_with, args=(code,)))

    assert (outcome.state, outcome.exit_code) == (TaskState.SUCCESS, 0)


def test_sys_exit_with_a_code_is_failed_with_that_exit_code(attempts):
    outcome = attempts.run(Task("t", python=exit_with, args=(3,)))

    assert (outcome.state, outcome.exit_code, outcome.reason) == (
        TaskState.FAILED,
        3,
        "exit code 3",
    )


def test_sys_exit_with_a_message_fails_with_exit_code_1_and_the_message(attempts):
    outcome = attempts.run(Task("t", python=exit_with, args=("cannot go on",)))

    assert (outcome.state, outcome.exit_code, outcome.error) == (
        TaskState.FAILED,
        1,
        "cannot go on",
    )


def test_os_exit_fails_only_its_attempt_and_the_pool_stays_usable(attempts):
    sleeper = attempts.submit(Task("t", python=sleep_then, args=(0.3, "still here")))
    dying = attempts.submit(Task("t", python=die, args=(5,)))

    died = attempts.finished(dying)

    assert (died.state, died.exit_code, died.reason) == (
        TaskState.FAILED,
        5,
        "worker exited with code 5",
    )
    assert attempts.finished(sleeper).result == "still here"
    assert attempts.run(Task("t", python=add, args=(1, 1))).result == 2


def test_worker_killed_by_a_signal_fails_with_that_signal(attempts):
    outcome = attempts.run(Task("t", python=kill_self))

    assert (outcome.state, outcome.signal) == (TaskState.FAILED, signal.SIGKILL)
    assert outcome.reason == "killed by signal 9 (SIGKILL)"


def test_result_that_is_not_json_fails_naming_the_task_and_type(attempts):
    outcome = attempts.run(Task("load", python=a_set))

    assert outcome.state is TaskState.FAILED
    assert outcome.error.startswith("task 'load' returned a set that is not JSON-serialisable")


def test_result_over_64_kib_of_json_fails(attempts):
    outcome = attempts.run(Task("load", python=too_large))

    assert outcome.state is TaskState.FAILED
    assert outcome.error == (
        "task 'load' returned a str of 70002 bytes as JSON; at most 65536 are allowed"
    )


def test_env_and_cwd_apply_during_the_call_and_are_restored_after(attempts, tmp_path):
    task = Task("t", python=environment_and_cwd, cwd=str(tmp_path))
    first = attempts.run(task, env={"RUNWATCH_TEST_VAR": "set"})

    second = attempts.run(Task("t", python=environment_and_cwd))

    assert first.result == ["set", str(tmp_path)]
    assert second.result == [None, os.getcwd()]


def test_missing_working_directory_fails_the_attempt(attempts, tmp_path):
    missing = str(tmp_path / "missing")

    outcome = attempts.run(Task("t", python=pid, cwd=missing))

    assert (outcome.state, outcome.error) == (
        TaskState.FAILED,
        f"working directory not found: {missing!r}",
    )


def test_idle_worker_is_reused(attempts):
    first = attempts.submit(Task("t", python=pid))
    first_pid = attempts.finished(first).result
    second = attempts.submit(Task("t", python=pid))

    assert attempts.finished(second).result == first_pid == attempts.launched(second).pid
    assert first_pid != os.getpid()


def test_lambdas_and_closures_made_after_the_pool_started_still_run(attempts):
    assert attempts.run(Task("t", python=pid)).state is TaskState.SUCCESS
    offset = 40

    def closure(x):
        return x + offset

    assert attempts.run(Task("t", python=lambda: "lambda")).result == "lambda"
    assert attempts.run(Task("t", python=closure, args=(2,))).result == 42
    assert attempts.run(Task("t", python=add, args=(threading.Lock(), 1))).state is (
        TaskState.FAILED  # unpicklable argument, run from the registry: then a TypeError
    )


def test_function_of_a_module_loaded_after_the_pool_started_still_runs(attempts, tmp_path):
    assert attempts.run(Task("t", python=pid)).state is TaskState.SUCCESS
    (tmp_path / "late_module.py").write_text("def answer():\n    return 42\n")
    loaded = importlib.util.spec_from_file_location(
        "late_module_not_on_path", tmp_path / "late_module.py"
    )
    module = importlib.util.module_from_spec(loaded)
    sys.modules[loaded.name] = module
    try:
        loaded.loader.exec_module(module)

        outcome = attempts.run(Task("t", python=module.answer))
    finally:
        del sys.modules[loaded.name]

    assert (outcome.state, outcome.result) == (TaskState.SUCCESS, 42)


def test_time_out_kills_the_worker_group_and_the_pool_replaces_the_worker(attempts, tmp_path):
    pid_file = tmp_path / "child.pid"
    spec = attempts.submit(
        Task("t", python=spawn_child_ignoring_sigterm, args=(str(pid_file),)), kill_grace=0.2
    )
    worker = attempts.launched(spec).pid
    child = int(attempts.wait_for_line(pid_file))

    attempts.executor.time_out(spec.key)
    outcome = attempts.finished(spec)

    assert (outcome.state, outcome.reason) == (TaskState.TIMED_OUT, "timed out")
    assert attempts.wait_gone(worker, timeout=1)
    assert attempts.wait_gone(child, timeout=2)
    assert attempts.run(Task("t", python=add, args=(1, 2))).result == 3


def test_cancel_of_a_waiting_attempt_reports_it_at_once(attempts):
    busy = [attempts.submit(Task("t", python=sleep_then, args=(0.3, i))) for i in range(2)]
    waiting = attempts.submit(Task("t", python=pid))

    attempts.executor.cancel(waiting.key, reason="not needed")

    assert attempts.finished(waiting, timeout=0.2).state is TaskState.CANCELLED
    assert attempts.launched(waiting).pid is None
    assert [attempts.finished(spec).result for spec in busy] == [0, 1]


def test_attempts_beyond_the_pool_size_wait_for_a_free_worker(attempts):
    specs = [attempts.submit(Task("t", python=sleep_then, args=(0.05, i))) for i in range(5)]

    assert [attempts.finished(spec).result for spec in specs] == [0, 1, 2, 3, 4]


def test_python_attempts_run_concurrently(attempts):
    specs = [attempts.submit(Task("t", python=started_and_ended, args=(0.3,))) for _ in range(2)]

    spans = [attempts.finished(spec).result for spec in specs]

    assert max(start for start, _ in spans) < min(end for _, end in spans)


def test_traceparent_makes_the_task_run_inside_that_trace(attempts):
    pytest.importorskip("opentelemetry")
    trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    env = {"TRACEPARENT": f"00-{trace_id}-{parent_id}-01"}

    outcome = attempts.run(Task("t", python=trace_and_span_ids), env=env)
    in_process = attempts.run(Task("t", python=trace_and_span_ids, in_process=True), env=env)

    assert outcome.result == [trace_id, parent_id] == in_process.result


def test_in_process_task_runs_in_this_process_and_captures_its_thread_output(attempts, capsys):
    spec = attempts.submit(Task("t", python=noisy_in_process, in_process=True))

    outcome = attempts.finished(spec)
    print("not the task's")

    assert (outcome.state, outcome.result) == (TaskState.SUCCESS, os.getpid())
    assert spec.stdout_path.read_text() == "from the task\n"
    assert spec.stderr_path.read_text() == "warning from the task\n"
    assert "not the task's" in capsys.readouterr().out


def noisy_in_process():
    print("from the task")
    print("warning from the task", file=sys.stderr)
    return os.getpid()


def test_in_process_exception_fails_with_its_traceback(attempts):
    spec = attempts.submit(Task("t", python=fail, in_process=True))

    outcome = attempts.finished(spec)

    assert outcome.error.splitlines()[-1] == "ValueError: the input is bad"
    assert "ValueError: the input is bad" in spec.stderr_path.read_text()


def test_in_process_time_out_reports_at_once_and_ignores_the_late_result(attempts):
    spec = attempts.submit(Task("t", python=sleep_then, args=(0.3, "late"), in_process=True))
    attempts.launched(spec)

    attempts.executor.time_out(spec.key)

    outcome = attempts.finished(spec, timeout=0.1)
    assert (outcome.state, outcome.result) == (TaskState.TIMED_OUT, None)
    time.sleep(0.4)
    attempts.drain()
    assert len(attempts.reported[spec.key]) == 2


def test_shutdown_cancels_running_python_attempts(attempts):
    spec = attempts.submit(Task("t", python=sleep_then, args=(30, None)))
    worker = attempts.launched(spec).pid

    attempts.executor.shutdown()

    assert (attempts.finished(spec).state, attempts.finished(spec).reason) == (
        TaskState.CANCELLED,
        "shutdown",
    )
    assert attempts.wait_gone(worker, timeout=1)


def test_result_round_trips_as_json(attempts):
    outcome = attempts.run(Task("t", python=sleep_then, args=(0, {"rows": (1, 2)})))

    assert outcome.result == json.loads('{"rows": [1, 2]}')


def test_workers_forked_from_a_watching_thread_work_after_deaths(attempts):
    dying = [attempts.submit(Task("t", python=die, args=(1,))) for _ in range(2)]
    waiting = [attempts.submit(Task("t", python=exit_with, args=(0,))) for _ in range(3)]

    assert {attempts.finished(spec).state for spec in dying} == {TaskState.FAILED}
    assert {attempts.finished(spec).state for spec in waiting} == {TaskState.SUCCESS}


def replace_stdout():
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the point is not to restore it
    return None


def test_a_task_replacing_sys_stdout_does_not_silence_the_next_one(attempts):
    attempts.run(Task("t", python=replace_stdout))
    spec = attempts.submit(Task("t", python=noisy))

    attempts.finished(spec)

    assert spec.stdout_path.read_text() == "to stdout\nfd 1\n"
