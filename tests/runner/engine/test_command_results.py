"""Command tasks publish a JSON result through the file named by ``RUNWATCH_RESULT``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from runner.executors.local.pycall import MAX_RESULT_BYTES
from runner.model import RunState, Task, TaskState, UpstreamResult
from tests.runner.engine.conftest import Attempts, Harness, job, sh


def count_files(listing: dict[str, object]) -> str:
    return f"{len(listing['files'])} files"  # type: ignore[arg-type]


def test_a_command_result_is_stored_and_fed_to_a_python_task(harness: Harness) -> None:
    write = """printf '{"files": ["a.csv", "b.csv"]}' > "$RUNWATCH_RESULT" """
    run = harness.run(
        job(
            sh("list", write),
            Task("count", python=count_files, args=(UpstreamResult("list"),), after=("list",)),
        )
    )
    assert run.state is RunState.SUCCESS
    assert harness.store.results(run.id) == {
        "list": {"files": ["a.csv", "b.csv"]},
        "count": "2 files",
    }
    (attempt,) = harness.attempts(run, "list")
    assert attempt.result == {"files": ["a.csv", "b.csv"]}
    assert not Path(attempt.stdout_path or "").with_suffix(".result").exists()


def test_a_command_that_writes_no_result_succeeds_without_one(harness: Harness) -> None:
    run = harness.run(job(sh("quiet", "true")))
    assert run.state is RunState.SUCCESS
    (attempt,) = harness.attempts(run, "quiet")
    assert attempt.result is None
    assert harness.store.results(run.id) == {}


def test_invalid_json_fails_the_attempt_with_a_clear_reason(harness: Harness) -> None:
    run = harness.run(job(sh("bad", """echo '{"unclosed": ' > "$RUNWATCH_RESULT" """)))
    assert run.state is RunState.FAILED
    (attempt,) = harness.attempts(run, "bad")
    assert attempt.state is TaskState.FAILED
    assert attempt.exit_code == 0
    assert attempt.reason == "result not JSON"
    assert "task 'bad' wrote a RUNWATCH_RESULT file that is not JSON" in (attempt.error or "")


def test_nan_is_not_json(harness: Harness) -> None:
    run = harness.run(job(sh("nan", """echo '[NaN]' > "$RUNWATCH_RESULT" """)))
    (attempt,) = harness.attempts(run, "nan")
    assert attempt.reason == "result not JSON"


def test_a_result_over_the_python_cap_fails_the_attempt(harness: Harness) -> None:
    size = MAX_RESULT_BYTES + 10
    big = f"""head -c {size} /dev/zero | tr '\\0' 1 > "$RUNWATCH_RESULT" """
    run = harness.run(job(sh("big", big)))
    (attempt,) = harness.attempts(run, "big")
    assert attempt.state is TaskState.FAILED
    assert attempt.reason == "result too large"
    assert f"at most {MAX_RESULT_BYTES}" in (attempt.error or "")


def test_each_attempt_has_its_own_result_file_and_a_failed_ones_is_dropped(
    harness: Harness,
) -> None:
    marker = harness.tmp / "tried"
    script = (
        f'echo "$RUNWATCH_RESULT" >> {marker}; '
        f'if [ "$RUNWATCH_ATTEMPT" = 1 ]; then echo 1 > "$RUNWATCH_RESULT"; exit 1; fi'
    )
    run = harness.run(job(sh("flaky", script, retries=1, retry_delay=0.0)))
    assert run.state is RunState.SUCCESS
    first, second = harness.attempts(run, "flaky")
    paths = marker.read_text().split()
    assert len(set(paths)) == 2
    assert first.result is None
    assert second.result is None  # attempt 1's file is not attempt 2's result


def test_without_logs_the_result_file_is_in_a_temporary_folder_removed_after(
    attempts: Attempts,
) -> None:
    out = attempts.logs.parent / "path.txt"
    command = f"""echo "$RUNWATCH_RESULT" > {out}; echo '[1, 2]' > "$RUNWATCH_RESULT" """
    finished = attempts.run(Task("t", command=command), stdout_path=None, stderr_path=None)
    assert finished.state is TaskState.SUCCESS
    assert finished.result == [1, 2]
    folder = os.path.dirname(out.read_text().strip())
    assert not os.path.exists(folder)


def test_a_command_reads_its_upstream_results_from_a_file(harness: Harness) -> None:
    got = harness.tmp / "got.json"
    run = harness.run(
        job(
            Task("extract", python=count_files, args=({"files": [1, 2]},)),
            sh("nothing", "true"),
            sh("load", f'cat "$RUNWATCH_UPSTREAM_RESULTS" > {got}', after=("extract", "nothing")),
            sh("alone", 'test -z "$RUNWATCH_UPSTREAM_RESULTS"'),
        )
    )
    assert run.state is RunState.SUCCESS
    assert json.loads(got.read_text()) == {"extract": "2 files"}
    (attempt,) = harness.attempts(run, "load")
    assert not Path(attempt.stdout_path or "").with_suffix(".upstream").exists()
