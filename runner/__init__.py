"""runwatch's runner: jobs, tasks, the engine and the store.

The Python API for job files: ``from runner import job, task, command, Skip, Branch``.
The names are imported on first use, so importing a submodule (``runwatch wrap`` in a
crontab line) does not pay for the definitions layer.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from runner.definitions.python_api import command, job, sensor, task
    from runner.model import Branch, Skip

__all__ = ["Branch", "Skip", "command", "job", "sensor", "task"]

_HOMES = {
    "Branch": "runner.model",
    "Skip": "runner.model",
    "command": "runner.definitions.python_api",
    "job": "runner.definitions.python_api",
    "sensor": "runner.definitions.python_api",
    "task": "runner.definitions.python_api",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'runner' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
