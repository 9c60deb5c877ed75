"""Dynamic task mapping: instances per element, their retries, results, skips and reruns."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry

from runner.engine.engine import tasks_to_resume
from runner.events import TaskSkipped
from runner.model import Job, RunState, Task, TaskState, UpstreamResult
from runner.store.records import RunRecord
from runner.telemetry.metrics import MetricsCollector
from tests.runner.engine.conftest import Harness, job, sh


def list_files() -> list[str]:
    return ["a.csv", "b.csv", "c.csv"]


def nothing() -> list[str]:
    return []


def shout(name: str) -> str:
    return name.upper()


def joined(names: list[str]) -> str:
    return "+".join(names)


def shouting(lister: object) -> tuple[Task, Task]:
    """``list_files`` calling ``lister``, and ``shout`` mapped over its result."""
    return (
        Task("list_files", python=lister),  # type: ignore[arg-type]
        Task(
            "shout",
            python=shout,
            args=(UpstreamResult("list_files"),),
            map_over="list_files",
            after=("list_files",),
        ),
    )


def rerun(harness: Harness, the_job: Job, run: RunRecord) -> RunRecord:
    """Run again the tasks of ``run`` that did not succeed, as ``runwatch run`` does."""
    rows = harness.store.task_runs(run.id)
    tasks = [t for t in the_job.tasks if rows[t].state is not TaskState.SUCCESS]
    return harness.engine.execute(the_job, run, rerun=tasks)


def test_python_instances_get_their_element_and_downstream_gets_results_in_order(
    harness: Harness,
) -> None:
    run = harness.run(
        job(
            *shouting(list_files),
            Task("join", python=joined, args=(UpstreamResult("shout"),), after=("shout",)),
        )
    )
    assert run.state is RunState.SUCCESS
    states = harness.states(run)
    assert {n: states[n] for n in ("shout[0]", "shout[1]", "shout[2]", "shout")} == {
        n: TaskState.SUCCESS for n in ("shout[0]", "shout[1]", "shout[2]", "shout")
    }
    results = harness.store.results(run.id)
    assert results["shout[1]"] == "B.CSV"
    assert results["join"] == "A.CSV+B.CSV+C.CSV"


def test_command_instances_see_their_index_and_element_in_the_environment(
    harness: Harness,
) -> None:
    seen = harness.tmp / "seen.txt"
    each = (
        f'echo "$RUNWATCH_TASK $RUNWATCH_MAP_INDEX $RUNWATCH_MAP_ITEM" >> {seen}; '
        'echo "$RUNWATCH_MAP_INDEX" > "$RUNWATCH_RESULT"'
    )
    run = harness.run(
        job(
            sh("list", """printf '[{"f": "x"}, "y; rm -rf /"]' > "$RUNWATCH_RESULT" """),
            sh("each", each, map_over="list", after=("list",)),
            Task("join", python=json.dumps, args=(UpstreamResult("each"),), after=("each",)),
        )
    )
    assert run.state is RunState.SUCCESS
    assert sorted(seen.read_text().splitlines()) == [
        'each 0 {"f": "x"}',
        'each 1 "y; rm -rf /"',
    ]
    assert harness.store.results(run.id)["join"] == "[0, 1]"
    out = {a.task: a.stdout_path for a in harness.store.attempts(run.id)}
    assert out["each[0]"] != out["each[1]"]


def flaky_each(mark: Path, **options: object) -> Task:
    """``each``, mapped over ``list_files``: instance 1 fails until ``mark`` exists."""
    script = (
        'if [ "$RUNWATCH_MAP_INDEX" = 1 ] && [ ! -e "$MARK" ]; then touch "$MARK"; exit 1; fi; '
        'echo "\\"ok $RUNWATCH_MAP_INDEX\\"" > "$RUNWATCH_RESULT"'
    )
    env = {"MARK": str(mark)}
    return sh("each", script, map_over="list_files", after=("list_files",), env=env, **options)


def test_one_failing_instance_is_retried_on_its_own(harness: Harness) -> None:
    mark = harness.tmp / "failed-once"
    run = harness.run(
        job(
            Task("list_files", python=list_files),
            flaky_each(mark, retries=1, retry_delay=0.0),
        )
    )
    assert run.state is RunState.SUCCESS
    tries = {n: len(harness.attempts(run, n)) for n in ("each[0]", "each[1]", "each[2]")}
    assert tries == {"each[0]": 1, "each[1]": 2, "each[2]": 1}
    assert harness.store.results(run.id)["each[1]"] == "ok 1"


def test_a_failed_instance_fails_the_task_and_a_rerun_runs_only_it(harness: Harness) -> None:
    mark = harness.tmp / "failed-once"
    the_job = job(
        Task("list_files", python=list_files),
        flaky_each(mark),
        Task("join", python=joined, args=(UpstreamResult("each"),), after=("each",)),
    )
    run = harness.run(the_job)
    assert run.state is RunState.FAILED
    assert run.reason == "failed: each, join"
    states = harness.states(run)
    assert states["each[1]"] is TaskState.FAILED
    assert states["each[0]"] is TaskState.SUCCESS
    assert states["join"] is TaskState.UPSTREAM_FAILED

    again = rerun(harness, the_job, run)
    assert again.state is RunState.SUCCESS
    tries = {n: len(harness.attempts(run, n)) for n in ("each[0]", "each[1]", "each[2]")}
    assert tries == {"each[0]": 1, "each[1]": 2, "each[2]": 1}
    assert len(harness.attempts(run, "list_files")) == 1
    assert harness.store.results(run.id)["join"] == "ok 0+ok 1+ok 2"


def test_an_empty_list_skips_the_mapped_task_and_what_needs_it(harness: Harness) -> None:
    run = harness.run(
        job(
            *shouting(nothing),
            sh("after", "true", after=("shout",)),
        )
    )
    assert run.state is RunState.SUCCESS
    assert harness.states(run)["shout"] is TaskState.SKIPPED
    assert harness.states(run)["after"] is TaskState.SKIPPED
    reasons = {
        e.task: e.reason for e in harness.store.events_after(0) if isinstance(e, TaskSkipped)
    }
    assert reasons["shout"] == "empty map"
    assert harness.attempts(run, "shout") == []


def test_a_list_longer_than_max_map_fails_the_mapped_task_saying_so(harness: Harness) -> None:
    run = harness.run(
        job(
            Task("list_files", python=list_files),
            sh("each", "true", map_over="list_files", after=("list_files",), max_map=2),
        )
    )
    assert run.state is RunState.FAILED
    (attempt,) = harness.attempts(run, "each")
    assert attempt.reason == "map too wide"
    assert attempt.error == (
        "task 'each' maps over the result of task 'list_files', a list of 3 elements; max_map is 2"
    )
    assert "each[0]" not in harness.states(run)


def test_a_result_that_is_not_a_list_fails_the_mapped_task(harness: Harness) -> None:
    run = harness.run(
        job(
            sh("list", "echo '{}' > \"$RUNWATCH_RESULT\""),
            sh("each", "true", map_over="list", after=("list",)),
        )
    )
    (attempt,) = harness.attempts(run, "each")
    assert attempt.reason == "no list to map over"
    assert "which is a dict, not a JSON list" in (attempt.error or "")


def test_a_parameter_list_is_mapped_over(harness: Harness) -> None:
    seen = harness.tmp / "seen.txt"
    run = harness.run(
        job(sh("each", f'echo "$RUNWATCH_MAP_ITEM" >> {seen}', map_param="regions")),
        params={"regions": '["eu", "us"]'},
    )
    assert run.state is RunState.SUCCESS
    assert sorted(seen.read_text().split()) == ['"eu"', '"us"']


def test_metrics_count_instances_under_their_task(harness: Harness, tmp_path: Path) -> None:
    run = harness.run(
        job(
            Task("list_files", python=list_files),
            sh("each", "true", map_over="list_files", after=("list_files",)),
            name="mapped",
        )
    )
    assert run.state is RunState.SUCCESS
    registry = CollectorRegistry()
    metrics = MetricsCollector(registry)
    metrics.consume(harness.store.events_after(0))
    labels = {"job": "mapped", "task": "each", "status": "success"}
    assert registry.get_sample_value("runwatch_task_attempts_total", labels) == 3
    tasks = {
        s.labels.get("task")
        for family in registry.collect()
        for s in family.samples
        if family.name == "runwatch_task_attempts"
    }
    assert tasks == {"list_files", "each"}


def test_a_task_can_map_over_a_mapped_tasks_results(harness: Harness) -> None:
    run = harness.run(
        job(
            *shouting(list_files),
            Task(
                "again",
                python=joined,
                args=(UpstreamResult("shout"),),
                map_over="shout",
                after=("shout",),
            ),
        )
    )
    assert run.state is RunState.SUCCESS
    results = harness.store.results(run.id)
    assert [results[f"again[{i}]"] for i in range(3)] == ["A+.+C+S+V", "B+.+C+S+V", "C+.+C+S+V"]


def test_resuming_a_run_keeps_the_retries_each_instance_spent(harness: Harness) -> None:
    the_job = job(
        Task("list_files", python=list_files),
        sh(
            "each",
            'test "$RUNWATCH_MAP_INDEX" != 1',
            map_over="list_files",
            after=("list_files",),
            retries=1,
            retry_delay=0.0,
        ),
    )
    run = harness.run(the_job)
    assert run.state is RunState.FAILED
    assert len(harness.attempts(run, "each[1]")) == 2
    rows = harness.store.task_runs(run.id)
    resumed = harness.engine.execute(
        the_job, run, rerun=tasks_to_resume(the_job, rows), keep_budget=True
    )
    assert resumed.state is RunState.FAILED
    assert len(harness.attempts(run, "each[1]")) == 2  # its budget was spent: not run again
    assert len(harness.attempts(run, "each[0]")) == 1


def test_a_run_timeout_cancels_the_instances_still_waiting(harness: Harness) -> None:
    the_job = job(
        Task("list_files", python=list_files),
        sh("each", "sleep 30", map_over="list_files", after=("list_files",), pool="one"),
        timeout=1.0,
    )
    run = harness.run(the_job)
    assert run.state is RunState.FAILED
    states = harness.states(run)
    assert sorted(states[f"each[{i}]"] for i in range(3)) == [
        TaskState.CANCELLED,
        TaskState.CANCELLED,
        TaskState.TIMED_OUT,
    ]
    assert states["each"] is TaskState.FAILED  # one instance timed out with the run
