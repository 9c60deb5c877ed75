"""Branches: a task that ends choosing some of its direct downstream tasks skips the others.

A Python task chooses by returning ``model.Branch(...)`` (stored as its result); a command
by exiting with one of its ``branch_on_exit`` codes (each a success). A direct downstream
task that is not chosen, and that no chosen task leads to, is skipped with reason
``branch``; the trigger rules then carry the skip further down, as in Airflow
(``none_failed_min_one_success`` is the rule of the join after a branch).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from runner.engine.executor import AttemptFinished
from runner.model import Task, TaskState, branch_of

REASON = "branch"
"""The reason recorded on a task a branch skips."""


def chosen(task: Task, finished: AttemptFinished) -> tuple[str, ...] | None:
    """The downstream tasks a successful attempt chose; None when it chose nothing."""
    if finished.state is not TaskState.SUCCESS:
        return None
    if task.kind == "command":
        code = finished.exit_code
        return None if code is None else task.branch_on_exit.get(code)
    return branch_of(finished.result)


def checked(
    task: Task, finished: AttemptFinished, downstream: Sequence[str]
) -> tuple[AttemptFinished, tuple[str, ...] | None]:
    """The outcome and the branch it chose; an outcome choosing a task that is not a
    direct downstream of ``task`` becomes a failure naming it."""
    names = chosen(task, finished)
    if names is None:
        return finished, None
    strangers = [n for n in names if n not in downstream]
    if not strangers:
        return finished, names
    error = (
        f"task {task.name!r} chose {', '.join(map(repr, strangers))}, which is not a direct "
        f"downstream task of it (downstream: {', '.join(downstream) or 'none'})"
    )
    failed = dataclasses.replace(
        finished, state=TaskState.FAILED, error=error, reason="branch names an unknown task"
    )
    return failed, None


def not_chosen(
    downstream: Mapping[str, Sequence[str]], task: str, names: Sequence[str]
) -> list[str]:
    """The direct downstream tasks of ``task`` to skip: those neither chosen nor reached
    from a chosen one (a join both paths lead to is left to its trigger rule)."""
    reached = set(names)
    todo = list(names)
    while todo:
        for down in downstream[todo.pop()]:
            if down not in reached:
                reached.add(down)
                todo.append(down)
    return [d for d in downstream[task] if d not in reached]
