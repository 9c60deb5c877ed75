"""The task graph of a job and its trigger rules: *what* may run, never *how*.

``Graph`` answers, for the tasks of one run, which pending tasks are ready, and which
can no longer run (their trigger rule cannot hold any more) and so become skipped or
upstream_failed — cascading down the graph in one call, so nothing ever hangs.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Iterator, Mapping
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


@dataclass
class Tally:
    """How many of a task's upstreams ended, and how: all a trigger rule needs to know."""

    upstreams: int
    finished: int = 0
    failed: int = 0
    succeeded: int = 0
    skipped: int = 0

    def count(self, state: TaskState) -> None:
        """One more upstream ended in ``state`` (a finished state)."""
        self.finished += 1
        self.failed += state in _FAILED
        self.succeeded += state is TaskState.SUCCESS
        self.skipped += state is TaskState.SKIPPED


def decide(rule: TriggerRule, tally: Tally) -> Verdict:
    """A trigger rule's verdict from the tally of a task's upstreams, in constant time."""
    if not tally.upstreams:
        return Verdict.RUN
    done = tally.finished == tally.upstreams
    failed, succeeded, skipped = tally.failed > 0, tally.succeeded > 0, tally.skipped > 0
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
        case TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS:  # the join after a branch
            if failed:
                return Verdict.UPSTREAM_FAILED
            if not done:
                return Verdict.WAIT
            return Verdict.RUN if succeeded else Verdict.SKIP
    raise AssertionError(rule)


@dataclass(frozen=True)
class Decision:
    """A pending task that a call to ``TaskStates.settle`` resolved."""

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
        self.rank = {name: i for i, name in enumerate(self.order)}

    def track(self, states: Mapping[str, TaskState]) -> TaskStates:
        """The bookkeeping of one run of this graph, starting from ``states``."""
        return TaskStates(self, states)


class TaskStates(Mapping[str, TaskState]):
    """The states of one run's tasks, with what keeps each step constant-time.

    Every change goes through ``set``, which keeps each task's upstream ``Tally`` and the
    counts of unfinished and retrying tasks, as ``graphlib``'s ``done()`` keeps its
    counters: a finished attempt costs work for its downstreams only, never a scan.
    """

    def __init__(self, graph: Graph, states: Mapping[str, TaskState]) -> None:
        self.graph = graph
        self._states = dict(states)
        self._tallies = {n: Tally(len(ups)) for n, ups in graph.upstream.items()}
        self.unfinished = 0
        self.retrying = 0
        for name, state in self._states.items():
            self._account(state, +1)
            if state.finished:
                self._tell_downstreams(name, state)

    def __getitem__(self, name: str) -> TaskState:
        return self._states[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._states)

    def __len__(self) -> int:
        return len(self._states)

    def set(self, name: str, state: TaskState) -> None:
        """Change one task's state; a finished state is final within a run."""
        old = self._states[name]
        if old.finished:
            raise ValueError(f"task {name!r} already ended {old.value}; it cannot become {state}")
        self._account(old, -1)
        self._states[name] = state
        self._account(state, +1)
        if state.finished:
            self._tell_downstreams(name, state)

    def _account(self, state: TaskState, sign: int) -> None:
        self.unfinished += sign * (not state.finished)
        self.retrying += sign * (state is TaskState.RETRYING)

    def _tell_downstreams(self, name: str, state: TaskState) -> None:
        for down in self.graph.downstream[name]:
            self._tallies[down].count(state)

    def verdict(self, task: str) -> Verdict:
        """The trigger rule's verdict for one task."""
        return decide(self.graph.job.tasks[task].trigger, self._tallies[task])

    def settle(self, changed: list[str] | None = None) -> list[Decision]:
        """Resolve pending tasks whose verdict is known.

        Tasks judged SKIP or UPSTREAM_FAILED get that state and their downstreams are
        judged in turn; tasks judged RUN are returned (state left pending) for the
        caller to start. ``changed`` limits the first look to the downstreams of those
        tasks; None looks at every pending task. Tasks are resolved in topological order.
        """
        rank = self.graph.rank
        if changed is None:
            names = [n for n, s in self._states.items() if s is TaskState.PENDING]
        else:
            names = [d for c in changed for d in self.graph.downstream[c]]
        todo = [(rank[n], n) for n in set(names)]
        heapq.heapify(todo)
        queued = {n for _, n in todo}
        decisions: list[Decision] = []
        while todo:
            _, name = heapq.heappop(todo)
            if self._states[name] is not TaskState.PENDING:
                continue
            verdict = self.verdict(name)
            if verdict is Verdict.WAIT:
                continue
            decisions.append(Decision(name, verdict))
            if verdict is Verdict.RUN:
                continue
            self.set(
                name, TaskState.SKIPPED if verdict is Verdict.SKIP else TaskState.UPSTREAM_FAILED
            )
            for down in self.graph.downstream[name]:
                if down not in queued:
                    queued.add(down)
                    heapq.heappush(todo, (rank[down], down))
        return decisions


class ReadyQueue:
    """Tasks ready to start, handed out in topological order: a heap, never a scan."""

    def __init__(self, rank: Mapping[str, int]) -> None:
        self._rank = rank
        self._heap: list[tuple[int, str]] = []
        self._members: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def add(self, name: str) -> None:
        """Make ``name`` ready (again)."""
        if name not in self._members:
            self._members.add(name)
            heapq.heappush(self._heap, (self._rank[name], name))

    def pop(self) -> str:
        """The first ready task in topological order, no longer ready."""
        while True:
            _, name = heapq.heappop(self._heap)
            if name in self._members:
                self._members.discard(name)
                return name

    def clear(self) -> None:
        """Nothing is ready any more."""
        self._heap.clear()
        self._members.clear()
