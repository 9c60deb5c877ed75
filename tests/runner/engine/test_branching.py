"""Branches: Python ``Branch(...)`` and ``branch_on_exit``, the skips they cause and joins."""

from __future__ import annotations

import pytest

from runner.engine.dag import Tally, Verdict, decide
from runner.events import TaskSkipped
from runner.model import Branch, Job, RunState, Task, TaskState, TriggerRule
from runner.store.records import RunRecord
from tests.runner.engine.conftest import Harness, job, sh

JOIN = TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS


def pick_load() -> Branch:
    return Branch("load")


def pick_nothing() -> Branch:
    return Branch()


def pick_a_stranger() -> Branch:
    return Branch(["load", "report"])


def after_decide(pick: object, *tasks: Task) -> Job:
    """A job whose task ``decide`` calls ``pick``, then ``tasks``."""
    return job(Task("decide", python=pick), *tasks)  # type: ignore[arg-type]


def skip_reasons(harness: Harness, run: RunRecord) -> dict[str, str | None]:
    return {
        e.task or "": e.reason
        for e in harness.store.events_after(0)
        if isinstance(e, TaskSkipped) and e.run_id == run.id
    }


def test_a_python_branch_runs_the_chosen_task_and_skips_the_other(harness: Harness) -> None:
    run = harness.run(
        job(
            Task("decide", python=pick_load),
            sh("load", "true", after=("decide",)),
            sh("notify_empty", "true", after=("decide",)),
            sh("after_notify", "true", after=("notify_empty",)),
            sh("join", "true", after=("load", "notify_empty"), trigger=JOIN),
            sh("strict_join", "true", after=("load", "notify_empty")),
        )
    )
    assert run.state is RunState.SUCCESS
    assert harness.states(run) == {
        "decide": TaskState.SUCCESS,
        "load": TaskState.SUCCESS,
        "notify_empty": TaskState.SKIPPED,
        "after_notify": TaskState.SKIPPED,
        "join": TaskState.SUCCESS,
        "strict_join": TaskState.SKIPPED,
    }
    reasons = skip_reasons(harness, run)
    assert reasons["notify_empty"] == "branch"
    assert reasons["after_notify"] == "trigger rule not met"
    assert harness.store.results(run.id)["decide"] == {"$branch": ["load"]}


def test_a_command_branches_on_its_exit_code_as_a_success(harness: Harness) -> None:
    run = harness.run(
        job(
            sh("check", "exit 3", branch_on_exit={0: ("load",), 3: ("notify_empty",)}),
            sh("load", "true", after=("check",)),
            sh("notify_empty", "true", after=("check",)),
            sh("join", "true", after=("load", "notify_empty"), trigger=JOIN),
        )
    )
    assert run.state is RunState.SUCCESS
    states = harness.states(run)
    assert states["load"] is TaskState.SKIPPED
    assert states["notify_empty"] is TaskState.SUCCESS
    assert states["join"] is TaskState.SUCCESS
    (attempt,) = harness.attempts(run, "check")
    assert (attempt.state, attempt.exit_code) == (TaskState.SUCCESS, 3)
    assert attempt.reason == "exit code 3 (branch)"


def test_an_exit_code_outside_the_map_fails_as_usual(harness: Harness) -> None:
    run = harness.run(
        job(
            sh("check", "exit 4", branch_on_exit={0: ("load",), 3: ("notify_empty",)}),
            sh("load", "true", after=("check",)),
            sh("notify_empty", "true", after=("check",)),
        )
    )
    assert run.state is RunState.FAILED
    assert harness.states(run)["check"] is TaskState.FAILED
    assert harness.states(run)["load"] is TaskState.UPSTREAM_FAILED


@pytest.mark.parametrize(
    ("pick", "last", "expected"),
    [
        # a task a chosen task leads to is not skipped
        (pick_load, sh("last", "true", after=("decide", "load")), TaskState.SUCCESS),
        # an empty branch skips every direct downstream task, and a join below them
        (pick_nothing, sh("last", "true", after=("load",), trigger=JOIN), TaskState.SKIPPED),
    ],
)
def test_what_a_branch_leaves_to_the_trigger_rules(
    harness: Harness, pick: object, last: Task, expected: TaskState
) -> None:
    run = harness.run(after_decide(pick, sh("load", "true", after=("decide",)), last))
    assert run.state is RunState.SUCCESS
    assert harness.states(run)["last"] is expected


def test_a_branch_to_a_task_that_is_not_downstream_fails_the_task(harness: Harness) -> None:
    run = harness.run(
        after_decide(
            pick_a_stranger,
            sh("load", "true", after=("decide",)),
            sh("report", "true"),
        )
    )
    assert run.state is RunState.FAILED
    (attempt,) = harness.attempts(run, "decide")
    assert attempt.state is TaskState.FAILED
    assert attempt.reason == "branch names an unknown task"
    assert "chose 'report', which is not a direct downstream task of it" in (attempt.error or "")
    assert harness.states(run)["load"] is TaskState.UPSTREAM_FAILED


@pytest.mark.parametrize(
    ("finished", "failed", "succeeded", "skipped", "verdict"),
    [
        (1, 0, 1, 0, Verdict.WAIT),
        (2, 0, 1, 1, Verdict.RUN),
        (2, 0, 0, 2, Verdict.SKIP),
        (1, 1, 0, 0, Verdict.UPSTREAM_FAILED),
    ],
)
def test_none_failed_min_one_success_needs_one_success_and_no_failure(
    finished: int, failed: int, succeeded: int, skipped: int, verdict: Verdict
) -> None:
    tally = Tally(2, finished, failed, succeeded, skipped)
    assert decide(JOIN, tally) is verdict
