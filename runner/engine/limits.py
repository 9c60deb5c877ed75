"""The durations a run is driven by, checked when the run starts.

Definition loaders refuse out-of-range durations with the file and key named, but a job
can reach the engine without them (a ``runner.model.Job`` built in a Python job file).
Checking again at the start of each run makes such a value fail that run, with the key
in its reason, instead of raising deep in a later engine turn and stopping the process.
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.durations import parse_duration
from runner.errors import DefinitionError
from runner.model import Job


def check_durations(job: Job) -> None:
    """Raise DefinitionError naming the job, task and key of a duration out of range."""
    for where, value in _durations(job):
        if value is None:
            continue
        try:
            parse_duration(value)
        except ValueError as exc:
            raise DefinitionError(f"{job.source}: job {job.name!r}, {where}: {exc}") from None


def _durations(job: Job) -> Iterator[tuple[str, object]]:
    for key in ("timeout", "kill_grace", "grace", "expected_duration"):
        yield f"key {key!r}", getattr(job, key)
    for task in job.tasks.values():
        for key in ("timeout", "retry_delay", "max_retry_delay"):
            yield f"task {task.name!r}, key {key!r}", getattr(task, key)
