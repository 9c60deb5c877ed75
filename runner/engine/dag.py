"""The task graph of a job and its trigger rules: *what* may run, never *how*.

``Graph`` answers, for the tasks of one run, which pending tasks are ready, and which
can no longer run (their trigger rule cannot hold any more) and so become skipped or
upstream_failed — cascading down the graph in one call, so nothing ever hangs.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from runner.model import Job, TaskState, TriggerRule


class Verdict(Enum):
    """What a trigger rule says about a pending task, given its upstream states."""

    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


_FAILED = frozenset(
    {TaskState.FAILED, TaskState.TIMED_OUT, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED}
)


def judge(rule: TriggerRule, upstream: list[TaskState]) -> Verdict:
    """Apply a trigger rule (Airflow semantics) to the current states of the upstreams."""
    if not upstream:
        return Verdict.RUN
    done = all(s.finished for s in upstream)
    failed = any(s in _FAILED for s in upstream)
    succeeded = any(s is TaskState.SUCCESS for s in upstream)
    skipped = any(s is TaskState.SKIPPED for s in upstream)
    match rule:
        case TriggerRule.ALL_SUCCESS:
            if failed:
                return Verdict.UPSTREAM_FAILED
            if skipped:
                return Verdict.SKIP
            return Verdict.RUN if done else Verdict.WAIT
        case TriggerRule.ALL_DONE:
            return Verdict.RUN if done else Verdict.WAIT
        case TriggerRule.ALL_FAILED:
            if succeeded or skipped:
                return Verdict.SKIP
            return Verdict.RUN if done else Verdict.WAIT
        case TriggerRule.ONE_FAILED:
            if failed:
                return Verdict.RUN
            return Verdict.SKIP if done else Verdict.WAIT
        case TriggerRule.ONE_SUCCESS:
            if succeeded:
                return Verdict.RUN
            if not done:
                return Verdict.WAIT
            return Verdict.UPSTREAM_FAILED if failed else Verdict.SKIP
        case TriggerRule.NONE_FAILED:
            if failed:
                return Verdict.UPSTREAM_FAILED
            return Verdict.RUN if done else Verdict.WAIT
    raise AssertionError(rule)


@dataclass(frozen=True)
class Decision:
    """A pending task that a call to ``Graph.settle`` resolved."""

    task: str
    verdict: Verdict


class Graph:
    """A job's tasks in topological order with upstream and downstream links."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.upstream: dict[str, tuple[str, ...]] = {n: t.after for n, t in job.tasks.items()}
        self.downstream: dict[str, list[str]] = {n: [] for n in job.tasks}
        for name, ups in self.upstream.items():
            for up in ups:
                self.downstream[up].append(name)
        self.order: tuple[str, ...] = tuple(
            graphlib.TopologicalSorter(self.upstream).static_order()
        )
        self._rank = {name: i for i, name in enumerate(self.order)}

    def verdict(self, task: str, states: Mapping[str, TaskState]) -> Verdict:
        """The trigger rule's verdict for one task."""
        return judge(self.job.tasks[task].trigger, [states[u] for u in self.upstream[task]])

    def settle(
        self, states: dict[str, TaskState], changed: list[str] | None = None
    ) -> list[Decision]:
        """Resolve pending tasks whose verdict is known, updating ``states`` in place.

        Tasks judged SKIP or UPSTREAM_FAILED get that state and their downstreams are
        judged in turn; tasks judged RUN are returned (state left pending) for the
        caller to start. ``changed`` limits the first look to the downstreams of those
        tasks; None looks at every pending task.
        """
        if changed is None:
            todo = {n for n, s in states.items() if s is TaskState.PENDING}
        else:
            todo = {d for c in changed for d in self.downstream[c]}
        decisions: list[Decision] = []
        while todo:
            name = min(todo, key=self._rank.__getitem__)
            todo.discard(name)
            if states[name] is not TaskState.PENDING:
                continue
            verdict = self.verdict(name, states)
            if verdict is Verdict.WAIT:
                continue
            decisions.append(Decision(name, verdict))
            if verdict is Verdict.RUN:
                continue
            states[name] = (
                TaskState.SKIPPED if verdict is Verdict.SKIP else TaskState.UPSTREAM_FAILED
            )
            todo.update(self.downstream[name])
        return decisions
