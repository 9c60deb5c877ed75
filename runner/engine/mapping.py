"""Dynamic task mapping: a task run once per element of a list known only at run time.

A mapped task (``map_over: list_files``, or ``map_over: {param: files}``) becomes ready
like any task; instead of an attempt it is *expanded*: its list is read (the upstream
task's JSON result, or the run parameter's JSON), and one instance per element —
``process[0]`` … ``process[N-1]``, each a task row of the run with its own attempts,
retries, timeout and logs — is made ready. The mapped task itself is running until
every instance has ended, then ends as they did (failed if any failed) with the list of
their results, in order, as its result. An empty list skips it; a list longer than
``max_map`` fails it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.model import Job, Task, TaskState, instance_name, logical_task

MAP_INDEX = "RUNWATCH_MAP_INDEX"
MAP_ITEM = "RUNWATCH_MAP_ITEM"
EMPTY = "empty map"
"""The reason recorded on a mapped task skipped for an empty list."""


class MapError(Exception):
    """The list of a mapped task cannot be mapped over; ``reason`` is the short form."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason


def items_of(task: Task, results: Mapping[str, Any], params: Mapping[str, str]) -> list[Any]:
    """The elements ``task`` runs for; MapError when there is no list or it is too long."""
    if task.map_over is not None:
        where = f"the result of task {task.map_over!r}"
        value = results.get(task.map_over)
    else:
        assert task.map_param is not None
        where = f"parameter {task.map_param!r}"
        if task.map_param not in params:
            raise MapError("no list to map over", f"task {task.name!r}: {where} is not set")
        try:
            value = json.loads(params[task.map_param])
        except ValueError as exc:
            raise MapError(
                "no list to map over", f"task {task.name!r}: {where} is not JSON: {exc}"
            ) from None
    if not isinstance(value, list):
        raise MapError(
            "no list to map over",
            f"task {task.name!r} maps over {where}, which is a "
            f"{type(value).__name__}, not a JSON list",
        )
    if len(value) > task.max_map:
        raise MapError(
            "map too wide",
            f"task {task.name!r} maps over {where}, a list of {len(value)} elements; "
            f"max_map is {task.max_map}",
        )
    return value


def index_of(name: str) -> int | None:
    """The index of an instance name, None for a task's own name."""
    cut = name.find("[")
    return None if cut < 0 else int(name[cut + 1 : -1])


_FAILED = (TaskState.FAILED, TaskState.TIMED_OUT, TaskState.UPSTREAM_FAILED)


@dataclass
class Expansion:
    """The instances of one mapped task in one run, and how far they got."""

    task: str
    items: list[Any]
    states: list[TaskState]
    results: list[Any]
    unfinished: int = field(init=False)
    retrying: int = field(init=False)

    def __post_init__(self) -> None:
        self.unfinished = sum(not s.finished for s in self.states)
        self.retrying = sum(s is TaskState.RETRYING for s in self.states)

    def names(self, *states: TaskState) -> Iterator[str]:
        """The instances now in one of ``states``, in index order."""
        return (instance_name(self.task, i) for i, s in enumerate(self.states) if s in states)

    def set(self, index: int, state: TaskState) -> None:
        """One instance's new state (a finished one is final)."""
        old = self.states[index]
        if old.finished:
            raise ValueError(f"{instance_name(self.task, index)} already ended {old.value}")
        self.states[index] = state
        self.unfinished -= state.finished
        self.retrying += (state is TaskState.RETRYING) - (old is TaskState.RETRYING)

    def outcome(self) -> TaskState:
        """How the mapped task ended, once every instance has: failed if one failed, else
        cancelled if one was, skipped if all were, else success."""
        if any(s in _FAILED for s in self.states):
            return TaskState.FAILED
        if TaskState.CANCELLED in self.states:
            return TaskState.CANCELLED
        if all(s is TaskState.SKIPPED for s in self.states):
            return TaskState.SKIPPED
        return TaskState.SUCCESS


def expand(
    task: Task,
    items: list[Any],
    rows: Mapping[str, TaskState],
    results: Mapping[str, Any],
    exhausted: Collection[str] = (),
) -> Expansion:
    """The instances of ``task`` for ``items``; an instance whose row (``rows``, from an
    earlier try of this run) succeeded keeps its success and result: a rerun runs only
    the instances that did not succeed. One in ``exhausted`` (resuming, its retries
    spent) stays failed."""
    states, kept = [], []
    for index in range(len(items)):
        name = instance_name(task.name, index)
        done = rows.get(name) is TaskState.SUCCESS
        spent = not done and name in exhausted
        states.append(
            TaskState.SUCCESS if done else TaskState.FAILED if spent else TaskState.PENDING
        )
        kept.append(results.get(name) if done else None)
    return Expansion(task.name, list(items), states, kept)


Instance = tuple[int, Any]
"""An instance's index and element."""


def instance_env(instance: Instance | None) -> dict[str, str]:
    """The variables of an instance: its index and its element (JSON); none for a task."""
    if instance is None:
        return {}
    return {MAP_INDEX: str(instance[0]), MAP_ITEM: json.dumps(instance[1])}


def upstream_results(
    task: Task, results: Mapping[str, Any], instance: Instance | None
) -> dict[str, Any]:
    """What an attempt gets of its upstream tasks' results: an instance gets its element
    in place of the list it maps over."""
    given = {u: results.get(u) for u in task.after}
    if instance is not None and task.map_over is not None:
        given[task.map_over] = instance[1]
    return given


def needs_mapped_results(job: Job, task: Task) -> bool:
    """True when an upstream task of ``task`` is mapped: its result is the list of its
    instances' results (``mapped_results``), not a stored result of its own."""
    return any(up in job.tasks and job.tasks[up].mapped for up in task.after)


def mapped_results(job: Job, rows: Mapping[str, TaskState], results: dict[str, Any]) -> None:
    """Add to ``results`` (a run's, by task) the list result of each mapped task that
    succeeded in an earlier try of the run, from its instances' rows and results."""
    counts: dict[str, int] = {}
    for name in rows:
        index = index_of(name)
        if index is not None:
            owner = logical_task(name)
            counts[owner] = max(counts.get(owner, 0), index + 1)
    for name, count in counts.items():
        task = job.tasks.get(name)
        if task is not None and task.mapped and rows.get(name) is TaskState.SUCCESS:
            results[name] = [results.get(instance_name(name, i)) for i in range(count)]


class InstanceRank(Mapping[str, int]):
    """A graph's ranks, also for instance names (an instance ranks as its task)."""

    def __init__(self, rank: Mapping[str, int]) -> None:
        self._rank = rank

    def __getitem__(self, name: str) -> int:
        return self._rank[logical_task(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rank)

    def __len__(self) -> int:
        return len(self._rank)
