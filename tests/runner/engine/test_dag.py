"""Trigger rules and graph settling, without running anything."""

from __future__ import annotations

import pytest

from runner.engine.dag import Graph, Verdict, judge
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
    assert judge(rule, upstream) is expected


def test_task_without_upstream_runs_whatever_its_rule() -> None:
    assert all(judge(rule, []) is RUN for rule in TriggerRule)


def _job(**tasks: Task) -> Job:
    return Job(name="j", tasks=tasks)


def test_failure_cascades_upstream_failed_down_the_whole_chain_at_once() -> None:
    job = _job(
        a=Task("a", command="x"),
        b=Task("b", command="x", after=("a",)),
        c=Task("c", command="x", after=("b",)),
        cleanup=Task("cleanup", command="x", after=("c",), trigger=TriggerRule.ALL_DONE),
    )
    graph = Graph(job)
    states = {"a": F, "b": P, "c": P, "cleanup": P}
    decisions = graph.settle(states, ["a"])
    assert [(d.task, d.verdict) for d in decisions] == [("b", UPF), ("c", UPF), ("cleanup", RUN)]
    assert states == {"a": F, "b": UF, "c": UF, "cleanup": P}


def test_skip_propagates_to_all_success_downstream_but_not_to_all_done() -> None:
    job = _job(
        check=Task("check", command="x"),
        load=Task("load", command="x", after=("check",)),
        report=Task("report", command="x", after=("load",), trigger=TriggerRule.ALL_DONE),
    )
    states = {"check": K, "load": P, "report": P}
    decisions = Graph(job).settle(states, ["check"])
    assert states["load"] is K
    assert [(d.task, d.verdict) for d in decisions] == [("load", SKIP), ("report", RUN)]


def test_settle_without_changes_finds_every_root_ready_in_topological_order() -> None:
    job = _job(
        z=Task("z", command="x"),
        a=Task("a", command="x"),
        m=Task("m", command="x", after=("z", "a")),
    )
    graph = Graph(job)
    decisions = graph.settle({"z": P, "a": P, "m": P})
    assert {d.task for d in decisions} == {"z", "a"}
    assert graph.order.index("m") == 2
