"""The engine with the real local executor, real subprocesses and a real SQLite store."""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.clock import utcnow
from runner.engine.engine import backoff_delay
from runner.errors import DefinitionError
from runner.events import (
    AttemptFailed,
    AttemptStarted,
    AttemptSucceeded,
    RunFailed,
    RunQueued,
    RunStarted,
    RunSucceeded,
    TaskUpstreamFailed,
)
from runner.model import Job, RunState, Skip, Task, TaskState, Trigger, TriggerRule, UpstreamResult
from runner.store.records import AttemptRecord
from runner.store.store import Store
from tests.runner.engine.conftest import Harness, job, sh
from tests.storesql import sql


def overlapping(attempts: list[AttemptRecord]) -> int:
    """The largest number of attempts that were running at the same instant."""
    edges = sorted(
        [(a.started_at, 1) for a in attempts] + [(a.finished_at, -1) for a in attempts],
        key=lambda e: (e[0], e[1]),
    )
    most = current = 0
    for _, delta in edges:
        current += delta
        most = max(most, current)
    return most


def test_tasks_run_in_dependency_order_and_every_change_is_an_event(harness: Harness) -> None:
    out = harness.tmp / "order.txt"
    run = harness.run(
        job(
            sh("extract", f"echo extract >> {out}"),
            sh("transform", f"echo transform >> {out}", after=("extract",)),
            sh("load", f"echo load >> {out}", after=("transform",)),
        )
    )
    assert run.state is RunState.SUCCESS
    assert out.read_text().split() == ["extract", "transform", "load"]
    events = harness.store.events_after(0)
    kinds = [type(e) for e in events]
    assert kinds[:2] == [RunQueued, RunStarted]
    assert kinds[-1] is RunSucceeded
    assert kinds.count(AttemptStarted) == 3
    assert kinds.count(AttemptSucceeded) == 3
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_tasks_get_runwatch_variables_and_parameters_in_their_environment(
    harness: Harness,
) -> None:
    out = harness.tmp / "env.txt"
    run = harness.run(
        job(
            Task(
                "show",
                command=("sh", "-c", f"env | grep -E '^(RUNWATCH_|SOURCE=)' | sort > {out}"),
                env={"SOURCE": "prod"},
            ),
            name="envjob",
        ),
        params={"region": "eu; rm -rf /"},
    )
    env = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert env["RUNWATCH_JOB"] == "envjob"
    assert env["RUNWATCH_TASK"] == "show"
    assert env["RUNWATCH_RUN_ID"] == str(run.id)
    assert env["RUNWATCH_ATTEMPT"] == "1"
    assert datetime.fromisoformat(env["RUNWATCH_LOGICAL_TIME"]) == run.logical_time
    assert env["RUNWATCH_PARAM_REGION"] == "eu; rm -rf /"
    assert env["SOURCE"] == "prod"


def test_independent_tasks_overlap_but_never_beyond_max_parallel(harness: Harness) -> None:
    tasks = [sh(f"t{i}", "sleep 0.3") for i in range(5)]
    run = harness.run(job(*tasks, max_parallel=2))
    attempts = harness.store.attempts(run.id)
    assert run.state is RunState.SUCCESS
    assert overlapping(attempts) == 2


def test_failed_task_is_retried_with_backoff_until_it_succeeds(harness: Harness) -> None:
    counter = harness.tmp / "count"
    flaky = (
        f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; "
        "[ $n -ge 3 ] || { echo attempt $n failed >&2; exit 3; }"
    )
    run = harness.run(job(sh("flaky", flaky, retries=3, retry_delay=0.1, max_retry_delay=1.0)))
    attempts = harness.attempts(run, "flaky")
    assert run.state is RunState.SUCCESS
    assert [(a.number, a.state) for a in attempts] == [
        (1, TaskState.FAILED),
        (2, TaskState.FAILED),
        (3, TaskState.SUCCESS),
    ]
    assert attempts[0].exit_code == 3
    assert "attempt 1 failed" in (attempts[0].error or "")
    # equal jitter: at least half of 0.1 s, then half of 0.2 s
    gaps = [
        (later.started_at - earlier.finished_at).total_seconds()  # type: ignore[operator]
        for earlier, later in itertools.pairwise(attempts)
    ]
    assert gaps[0] >= 0.05
    assert gaps[1] >= 0.1
    retrying = [p for p in harness.progress if p.state is TaskState.RETRYING]
    assert len(retrying) == 2


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    import random

    rng = random.Random(7)
    for retry, full in [(1, 10.0), (2, 20.0), (3, 40.0), (4, 60.0), (9, 60.0)]:
        delays = [backoff_delay(10.0, 60.0, retry, rng) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > 0


def test_backoff_of_a_thousand_and_more_retries_stays_at_the_cap() -> None:
    # 2.0 ** 1024 overflows a float: the 1,025th retry of a job once stopped the engine.
    import random

    rng = random.Random(7)
    assert all(30.0 <= backoff_delay(1.0, 60.0, retry, rng) <= 60.0 for retry in (1025, 10**9))
    assert backoff_delay(0.0, 60.0, 5000, rng) == 0.0


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (
            job(sh("t", "true"), sh("u", "true", after=("t",), timeout=float("inf"))),
            "task 'u', key 'timeout': a duration can be at most 3650d",
        ),
        (
            job(sh("t", "false", retries=1, retry_delay=float("nan"))),
            "task 't', key 'retry_delay': expected a duration",
        ),
        (job(sh("t", "true"), kill_grace=-1.0), "key 'kill_grace': a duration cannot be negative"),
    ],
)
def test_a_duration_out_of_range_is_refused_when_the_run_starts_naming_the_key(
    harness: Harness, bad: Job, named: str
) -> None:
    # A runner.model.Job built in a Python job file skips the loaders' checks; a later turn
    # would raise on it (a downstream task's timeout, a retry's delay) and stop the process.
    now = utcnow()
    harness.store.sync_jobs([bad], now)
    run = harness.store.create_run(bad, now, Trigger.MANUAL, now)
    assert run is not None
    with pytest.raises(DefinitionError, match=f"job 'job', {re.escape(named)}"):
        harness.engine.start(bad, run)
    assert harness.store.get_run(run.id).state is RunState.QUEUED
    assert harness.store.attempts(run.id) == []


def test_exhausted_retries_fail_the_task_and_mark_downstream_upstream_failed(
    harness: Harness,
) -> None:
    run = harness.run(
        job(
            sh("extract", "exit 5", retries=1, retry_delay=0),
            sh("load", "true", after=("extract",)),
            sh("report", "true", after=("load",)),
        )
    )
    assert run.state is RunState.FAILED
    assert harness.states(run) == {
        "extract": TaskState.FAILED,
        "load": TaskState.UPSTREAM_FAILED,
        "report": TaskState.UPSTREAM_FAILED,
    }
    events = harness.store.events_after(0)
    failed = [e for e in events if isinstance(e, AttemptFailed)]
    assert [(e.attempt, e.will_retry, e.exit_code) for e in failed] == [(1, True, 5), (2, False, 5)]
    assert sum(isinstance(e, TaskUpstreamFailed) for e in events) == 2
    run_failed = [e for e in events if isinstance(e, RunFailed)]
    assert run_failed[0].failed_tasks == ["extract", "load", "report"]


def test_trigger_rules_run_cleanup_and_failure_handlers_only_when_they_hold(
    harness: Harness,
) -> None:
    run = harness.run(
        job(
            sh("work", "exit 1"),
            sh("on_failure", "true", after=("work",), trigger=TriggerRule.ONE_FAILED),
            sh("on_success", "true", after=("work",), trigger=TriggerRule.ALL_SUCCESS),
            sh("cleanup", "true", after=("work",), trigger=TriggerRule.ALL_DONE),
            sh("all_failed", "true", after=("work",), trigger=TriggerRule.ALL_FAILED),
            sh("tolerant", "true", after=("work",), trigger=TriggerRule.NONE_FAILED),
        )
    )
    assert harness.states(run) == {
        "work": TaskState.FAILED,
        "on_failure": TaskState.SUCCESS,
        "on_success": TaskState.UPSTREAM_FAILED,
        "cleanup": TaskState.SUCCESS,
        "all_failed": TaskState.SUCCESS,
        "tolerant": TaskState.UPSTREAM_FAILED,
    }
    assert run.state is RunState.FAILED


def test_skip_exit_code_skips_the_task_and_its_downstream_without_failing_the_run(
    harness: Harness,
) -> None:
    run = harness.run(
        job(
            sh("check_new_data", "exit 99", skip_exit_code=99),
            sh("load", "true", after=("check_new_data",)),
            sh("report", "true", after=("load",), trigger=TriggerRule.NONE_FAILED),
        )
    )
    assert run.state is RunState.SUCCESS
    assert harness.states(run) == {
        "check_new_data": TaskState.SKIPPED,
        "load": TaskState.SKIPPED,
        "report": TaskState.SUCCESS,
    }


def test_task_timeout_kills_it_records_timed_out_and_retries(harness: Harness) -> None:
    started = time.monotonic()
    run = harness.run(
        job(sh("slow", "sleep 30", timeout=0.3, retries=1, retry_delay=0), kill_grace=0.2)
    )
    attempts = harness.attempts(run, "slow")
    assert [a.state for a in attempts] == [TaskState.TIMED_OUT, TaskState.TIMED_OUT]
    assert run.state is RunState.FAILED
    assert time.monotonic() - started < 10


def test_run_timeout_stops_running_tasks_and_cancels_the_rest(harness: Harness) -> None:
    run = harness.run(
        job(
            sh("slow", "sleep 30"),
            sh("after_slow", "true", after=("slow",)),
            timeout=0.5,
            kill_grace=0.2,
        )
    )
    assert run.state is RunState.FAILED
    assert run.reason is not None
    assert "timed out" in run.reason
    assert harness.states(run) == {
        "slow": TaskState.TIMED_OUT,
        "after_slow": TaskState.CANCELLED,
    }


def test_task_killed_by_sigkill_is_recorded_as_failed_with_the_signal(harness: Harness) -> None:
    run = harness.run(job(sh("oom", "kill -9 $$")))
    (attempt,) = harness.attempts(run, "oom")
    assert attempt.state is TaskState.FAILED
    assert attempt.signal == 9
    failed = [e for e in harness.store.events_after(0) if isinstance(e, AttemptFailed)]
    assert failed[0].signal == 9


def test_pool_limits_concurrency_across_runs_of_one_engine(harness: Harness) -> None:
    one = job(sh("a", "sleep 0.2", pool="one"), sh("b", "sleep 0.2", pool="one"), name="p1")
    two = job(sh("a", "sleep 0.2", pool="one"), name="p2")
    now = utcnow()
    harness.store.sync_jobs([one, two], now)
    runs = [harness.store.create_run(j, now, Trigger.MANUAL, now) for j in (one, two)]
    for j, r in zip((one, two), runs, strict=True):
        assert r is not None
        harness.engine.start(j, r)
    finished = harness.engine.run_until_done()
    assert {r.state for r in finished} == {RunState.SUCCESS}
    attempts = [a for r in finished for a in harness.store.attempts(r.id)]
    assert len(attempts) == 3
    assert overlapping(attempts) == 1


def test_pool_slot_held_by_another_process_delays_the_task_until_it_is_free(
    harness: Harness,
) -> None:
    other = Store.open(sql(harness.store).url.raw)
    blocker_job = job(sh("hold", "true", pool="one"), name="elsewhere")
    now = utcnow()
    other.sync_jobs([blocker_job], now)
    blocker_run = other.create_run(blocker_job, now, Trigger.MANUAL, now)
    assert blocker_run is not None
    held = other.start_attempt(blocker_run, "hold", now, pool="one", pool_size=1)
    assert held is not None

    def release() -> None:
        time.sleep(0.7)
        other.finish_attempt(held, TaskState.SUCCESS, utcnow())

    releaser = threading.Thread(target=release)
    releaser.start()
    run = harness.run(job(sh("wants_pool", "true", pool="one")))
    releaser.join()
    other.close()
    (attempt,) = harness.attempts(run, "wants_pool")
    assert run.state is RunState.SUCCESS
    assert (attempt.started_at - now).total_seconds() >= 0.7


def test_undefined_pool_is_a_definition_error_naming_job_task_and_pool(harness: Harness) -> None:
    bad = job(sh("t", "true", pool="warehouse"), name="etl")
    now = utcnow()
    run = harness.store.create_run(bad, now, Trigger.MANUAL, now)
    assert run is not None
    with pytest.raises(DefinitionError, match=r"job 'etl', task 't', key 'pool': pool 'warehouse'"):
        harness.engine.start(bad, run)


def test_rerun_executes_only_the_tasks_that_did_not_succeed(harness: Harness) -> None:
    marker = harness.tmp / "fixed"
    out = harness.tmp / "ran.txt"
    definition = job(
        sh("extract", f"echo extract >> {out}"),
        sh("load", f"echo load >> {out}; test -e {marker}", after=("extract",)),
        sh("report", f"echo report >> {out}", after=("load",)),
    )
    first = harness.run(definition)
    assert first.state is RunState.FAILED
    marker.touch()
    again = harness.engine.execute(definition, first, rerun=["load", "report"])
    assert again.id == first.id
    assert again.state is RunState.SUCCESS
    assert out.read_text().split() == ["extract", "load", "load", "report"]
    assert [a.number for a in harness.attempts(again, "load")] == [1, 2]
    assert len(harness.attempts(again, "extract")) == 1


def test_cancel_stops_running_tasks_and_records_the_run_cancelled(harness: Harness) -> None:
    pidfile = harness.tmp / "pid"
    definition = job(
        sh("long", f"echo $$ > {pidfile}; exec sleep 30"),
        sh("next", "true", after=("long",)),
        kill_grace=0.5,
    )
    now = utcnow()
    run = harness.store.create_run(definition, now, Trigger.MANUAL, now)
    assert run is not None
    threading.Timer(0.5, harness.engine.cancel, args=("interrupted by SIGINT",)).start()
    final = harness.engine.execute(definition, run)
    assert final.state is RunState.CANCELLED
    assert final.reason == "interrupted by SIGINT"
    assert harness.states(final) == {"long": TaskState.CANCELLED, "next": TaskState.CANCELLED}
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def extract_rows() -> list[int]:
    return [1, 2, 3]


def double(rows: list[int]) -> list[int]:
    return [r * 2 for r in rows]


def total(rows: list[int], label: str) -> str:
    return f"{label}={sum(rows)}"


def nothing_new() -> None:
    raise Skip("no new data today")


def test_python_tasks_pass_json_results_to_downstream_tasks(harness: Harness) -> None:
    run = harness.run(
        job(
            Task("extract", python=extract_rows),
            Task("double", python=double, args=(UpstreamResult("extract"),), after=("extract",)),
            Task(
                "total",
                python=total,
                args=(UpstreamResult("double"),),
                kwargs=(("label", "sum"),),
                after=("double",),
            ),
        )
    )
    assert run.state is RunState.SUCCESS
    assert harness.store.results(run.id) == {
        "extract": [1, 2, 3],
        "double": [2, 4, 6],
        "total": "sum=12",
    }


def test_python_task_raising_skip_skips_it_and_its_downstream(harness: Harness) -> None:
    run = harness.run(
        job(
            Task("check", python=nothing_new),
            Task("load", python=extract_rows, after=("check",)),
        )
    )
    assert run.state is RunState.SUCCESS
    assert harness.states(run) == {"check": TaskState.SKIPPED, "load": TaskState.SKIPPED}
    (attempt,) = harness.attempts(run, "check")
    assert attempt.reason is not None
    assert "no new data today" in attempt.reason


def test_output_of_each_attempt_is_captured_to_its_own_log_files(harness: Harness) -> None:
    run = harness.run(job(sh("talk", "echo to-out; echo to-err >&2")))
    (attempt,) = harness.attempts(run, "talk")
    assert attempt.stdout_path is not None
    assert attempt.stderr_path is not None
    assert Path(attempt.stdout_path).read_text() == "to-out\n"
    assert Path(attempt.stderr_path).read_text() == "to-err\n"
    assert str(harness.tmp / "logs" / "job" / str(run.id)) in attempt.stdout_path


def test_run_records_logical_time_and_start_as_aware_utc(harness: Harness) -> None:
    run = harness.run(job(sh("t", "true")))
    assert run.logical_time.tzinfo is UTC
    assert run.started_at is not None
    assert run.finished_at is not None
    assert run.started_at <= run.finished_at
