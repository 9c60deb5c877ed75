"""runwatch's runner: jobs, tasks, the engine and the store.

The Python API for job files: ``from runner import job, task, command, Skip``.
"""

from __future__ import annotations

from runner.definitions.python_api import command, job, task
from runner.model import Skip

__all__ = ["Skip", "command", "job", "task"]
