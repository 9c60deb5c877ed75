"""Trigger rules and graph settling, without running anything."""

from __future__ import annotations

import pytest

from runner.engine.dag import Graph, ReadyQueue, Verdict
from runner.model import Job, Task, TaskState, TriggerRule

S, F, T, UF, K, P, R = (
    TaskState.SUCCESS,
    TaskState.FAILED,
    TaskState.TIMED_OUT,
    TaskState.UPSTREAM_FAILED,
    TaskState.SKIPPED,
    TaskState.PENDING,
    TaskState.RUNNING,
)
RUN, WAIT, SKIP, UPF = Verdict.RUN, Verdict.WAIT, Verdict.SKIP, Verdict.UPSTREAM_FAILED


@pytest.mark.parametrize(
    ("rule", "upstream", "expected"),
    [
        (TriggerRule.ALL_SUCCESS, [S, S], RUN),
        (TriggerRule.ALL_SUCCESS, [S, R], WAIT),
        (TriggerRule.ALL_SUCCESS, [S, F], UPF),
        (TriggerRule.ALL_SUCCESS, [R, T], UPF),
        (TriggerRule.ALL_SUCCESS, [UF, S], UPF),
        (TriggerRule.ALL_SUCCESS, [S, K], SKIP),
        (TriggerRule.ALL_DONE, [S, F], RUN),
        (TriggerRule.ALL_DONE, [K, UF], RUN),
        (TriggerRule.ALL_DONE, [S, R], WAIT),
        (TriggerRule.ALL_FAILED, [F, T], RUN),
        (TriggerRule.ALL_FAILED, [F, UF], RUN),
        (TriggerRule.ALL_FAILED, [F, R], WAIT),
        (TriggerRule.ALL_FAILED, [F, S], SKIP),
        (TriggerRule.ALL_FAILED, [F, K], SKIP),
        (TriggerRule.ONE_FAILED, [F, R], RUN),
        (TriggerRule.ONE_FAILED, [S, R], WAIT),
        (TriggerRule.ONE_FAILED, [S, S], SKIP),
        (TriggerRule.ONE_SUCCESS, [S, R], RUN),
        (TriggerRule.ONE_SUCCESS, [F, R], WAIT),
        (TriggerRule.ONE_SUCCESS, [F, T], UPF),
        (TriggerRule.ONE_SUCCESS, [K, K], SKIP),
        (TriggerRule.NONE_FAILED, [S, K], RUN),
        (TriggerRule.NONE_FAILED, [S, R], WAIT),
        (TriggerRule.NONE_FAILED, [S, F], UPF),
    ],
)
def test_trigger_rule_verdicts_follow_airflow_semantics(
    rule: TriggerRule, upstream: list[TaskState], expected: Verdict
) -> None:
    assert _verdict(rule, upstream) is expected


def test_task_without_upstream_runs_whatever_its_rule() -> None:
    assert all(_verdict(rule, []) is RUN for rule in TriggerRule)


def _verdict(rule: TriggerRule, upstream: list[TaskState]) -> Verdict:
    """The verdict for a task ``t`` with the given rule, after upstreams in those states."""
    ups = {f"u{i}": Task(f"u{i}", command="x") for i in range(len(upstream))}
    t = Task("t", command="x", after=tuple(ups), trigger=rule)
    states = Graph(_job(**ups, t=t)).track({"t": P, **{f"u{i}": P for i in range(len(ups))}})
    for i, state in enumerate(upstream):  # told one at a time, as attempts finish
        states.set(f"u{i}", state)
    return states.verdict("t")


def _job(**tasks: Task) -> Job:
    return Job(name="j", tasks=tasks)


def test_failure_cascades_upstream_failed_down_the_whole_chain_at_once() -> None:
    job = _job(
        a=Task("a", command="x"),
        b=Task("b", command="x", after=("a",)),
        c=Task("c", command="x", after=("b",)),
        cleanup=Task("cleanup", command="x", after=("c",), trigger=TriggerRule.ALL_DONE),
    )
    states = Graph(job).track({"a": F, "b": P, "c": P, "cleanup": P})
    decisions = states.settle(["a"])
    assert [(d.task, d.verdict) for d in decisions] == [("b", UPF), ("c", UPF), ("cleanup", RUN)]
    assert dict(states) == {"a": F, "b": UF, "c": UF, "cleanup": P}
    assert states.unfinished == 1


def test_skip_propagates_to_all_success_downstream_but_not_to_all_done() -> None:
    job = _job(
        check=Task("check", command="x"),
        load=Task("load", command="x", after=("check",)),
        report=Task("report", command="x", after=("load",), trigger=TriggerRule.ALL_DONE),
    )
    states = Graph(job).track({"check": K, "load": P, "report": P})
    decisions = states.settle(["check"])
    assert states["load"] is K
    assert [(d.task, d.verdict) for d in decisions] == [("load", SKIP), ("report", RUN)]


def test_settle_without_changes_finds_every_root_ready_in_topological_order() -> None:
    job = _job(
        z=Task("z", command="x"),
        a=Task("a", command="x"),
        m=Task("m", command="x", after=("z", "a")),
    )
    graph = Graph(job)
    decisions = graph.track({"z": P, "a": P, "m": P}).settle()
    assert {d.task for d in decisions} == {"z", "a"}
    assert graph.order.index("m") == 2


def test_task_states_count_what_is_unfinished_and_retrying_as_states_change() -> None:
    job = _job(a=Task("a", command="x"), b=Task("b", command="x", after=("a",)))
    states = Graph(job).track({"a": P, "b": P})
    assert (states.unfinished, states.retrying) == (2, 0)
    states.set("a", TaskState.RETRYING)
    assert (states.unfinished, states.retrying) == (2, 1)
    states.set("a", S)
    assert (states.unfinished, states.retrying) == (1, 0)
    assert states.verdict("b") is RUN


def test_a_finished_task_cannot_change_state_within_a_run() -> None:
    states = Graph(_job(a=Task("a", command="x"))).track({"a": S})
    with pytest.raises(ValueError, match="task 'a' already ended success"):
        states.set("a", F)


def test_tasks_already_finished_when_a_run_resumes_count_for_their_downstreams() -> None:
    job = _job(a=Task("a", command="x"), b=Task("b", command="x", after=("a",)))
    states = Graph(job).track({"a": S, "b": P})
    assert [(d.task, d.verdict) for d in states.settle()] == [("b", RUN)]


def test_the_ready_queue_hands_out_tasks_in_topological_order_once_each() -> None:
    ready = ReadyQueue({"a": 0, "b": 1, "c": 2})
    for name in ("c", "a", "b", "a"):
        ready.add(name)
    first = ready.pop()
    ready.add("c")  # already ready: no second copy
    assert [first, ready.pop(), ready.pop()] == ["a", "b", "c"]
    assert not ready
