"""The task graph check: unknown upstreams and cycles."""

from __future__ import annotations

import pytest

from runner.config_fields import Location
from runner.definitions.graph import check_graph
from runner.errors import DefinitionError, DependencyCycleError
from runner.model import Task


def _where(task: str) -> Location:
    return Location("jobs.yaml", 1, "etl", task, "after")


def _tasks(**after: tuple[str, ...]) -> dict[str, Task]:
    return {name: Task(name=name, command="true", after=deps) for name, deps in after.items()}


def test_an_acyclic_graph_passes() -> None:
    check_graph(_tasks(a=(), b=("a",), c=("a", "b")), _where)


def test_a_cycle_is_reported_from_its_smallest_name_in_run_order() -> None:
    with pytest.raises(DependencyCycleError) as caught:
        check_graph(_tasks(x=(), c=("b",), a=("c", "x"), b=("a",)), _where)

    assert caught.value.cycle == ["a", "b", "c", "a"]
    assert str(caught.value).endswith("dependency cycle: a -> b -> c -> a")
    assert str(caught.value).startswith("jobs.yaml:1: job 'etl', task 'a', key 'after'")


def test_a_task_after_itself_is_a_cycle() -> None:
    with pytest.raises(DependencyCycleError) as caught:
        check_graph(_tasks(a=("a",)), _where)

    assert caught.value.cycle == ["a", "a"]


def test_an_unknown_upstream_is_rejected() -> None:
    with pytest.raises(DefinitionError, match=r"task 'b', key 'after': unknown upstream task 'z'$"):
        check_graph(_tasks(a=(), b=("z",)), _where)
