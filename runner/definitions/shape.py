"""The keys that shape a run at run time, checked against the task graph.

``map_over`` names another task of the job; ``branch_on_exit`` names only direct
downstream tasks of its task, and none of its exit codes is the task's
``skip_exit_code``. Runs before the graph check, so a misspelt ``map_over`` is named as
such rather than as an unknown upstream.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping

from runner.config_fields import Location
from runner.model import Task

Locate = Callable[[str, str], Location]
"""``locate(task, key)``: the place of a task's key, for a message."""


def check_shape(tasks: Mapping[str, Task], locate: Locate) -> None:
    """Raise DefinitionError for a task to map over that is not in the job, or a branch
    to a task that is not a direct downstream one."""
    for task in tasks.values():
        _check_map_over(task, tasks, locate)
    downstream: dict[str, list[str]] = {name: [] for name in tasks}
    for task in tasks.values():
        for upstream in task.after:
            downstream.setdefault(upstream, []).append(task.name)
    for task in tasks.values():
        _check_branches(task, downstream[task.name], locate)


def _check_map_over(task: Task, tasks: Mapping[str, Task], locate: Locate) -> None:
    source = task.map_over
    if source is None or (source in tasks and source != task.name):
        return
    others = [name for name in tasks if name != task.name]
    close = difflib.get_close_matches(source, others, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise locate(task.name, "map_over").error(f"unknown task {source!r} to map over{hint}")


def _check_branches(task: Task, downstream: list[str], locate: Locate) -> None:
    at = locate(task.name, "branch_on_exit")
    for code, names in task.branch_on_exit.items():
        if code == task.skip_exit_code:
            raise at.at(str(code)).error(
                f"exit code {code} is also the task's skip_exit_code; it can be only one"
            )
        for name in names:
            if name not in downstream:
                shown = ", ".join(downstream) or "none"
                raise at.at(str(code)).error(
                    f"task {name!r} is not a direct downstream task of {task.name!r} "
                    f"(downstream: {shown}); add {task.name!r} to its 'after'"
                )
