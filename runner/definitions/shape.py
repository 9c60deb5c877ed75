"""The keys that shape a run at run time, checked against the task graph.

``branch_on_exit`` names only direct downstream tasks of its task, and none of its exit
codes is the task's ``skip_exit_code``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from runner.config_fields import Location
from runner.model import Task


def check_shape(tasks: Mapping[str, Task], locate: Callable[[str, str], Location]) -> None:
    """Raise DefinitionError for a branch to a task that is not a direct downstream one;
    ``locate(task, key)`` gives the place of a task's key, for the message."""
    downstream: dict[str, list[str]] = {name: [] for name in tasks}
    for task in tasks.values():
        for upstream in task.after:
            downstream[upstream].append(task.name)
    for task in tasks.values():
        at = locate(task.name, "branch_on_exit")
        for code, names in task.branch_on_exit.items():
            if code == task.skip_exit_code:
                raise at.at(str(code)).error(
                    f"exit code {code} is also the task's skip_exit_code; it can be only one"
                )
            for name in names:
                if name not in downstream[task.name]:
                    shown = ", ".join(downstream[task.name]) or "none"
                    raise at.at(str(code)).error(
                        f"task {name!r} is not a direct downstream task of {task.name!r} "
                        f"(downstream: {shown}); add {task.name!r} to its 'after'"
                    )
