"""The task graph of a job: every upstream exists and there is no cycle."""

from __future__ import annotations

import graphlib
from collections.abc import Callable, Mapping

from runner.config_fields import Location, close_match
from runner.errors import DependencyCycleError
from runner.model import Task


def check_graph(tasks: Mapping[str, Task], where: Callable[[str], Location]) -> None:
    """Raise DefinitionError for an unknown upstream, DependencyCycleError for a cycle.

    ``where(task_name)`` gives the location of that task's ``after``, for the message.
    """
    for task in tasks.values():
        for upstream in task.after:
            if upstream not in tasks:
                close = close_match(upstream, tasks)
                hint = f" (did you mean {close!r}?)" if close else ""
                raise where(task.name).error(f"unknown upstream task {upstream!r}{hint}")
    sorter = graphlib.TopologicalSorter({task.name: task.after for task in tasks.values()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = _rotated(list(exc.args[1]))
        raise DependencyCycleError(
            f"{where(cycle[0])}: dependency cycle: {' -> '.join(cycle)}", cycle
        ) from None


def _rotated(cycle: list[str]) -> list[str]:
    """The cycle (upstream first, first node repeated last) starting at its smallest name."""
    nodes = cycle[:-1]
    start = nodes.index(min(nodes))
    nodes = nodes[start:] + nodes[:start]
    return [*nodes, nodes[0]]
