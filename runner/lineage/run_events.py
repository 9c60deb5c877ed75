"""runwatch's events as OpenLineage RunEvents.

A run is an OpenLineage run of the job ``JOB``; each task attempt one of the job
``JOB.TASK``, whose parent-run facet names the run. Run ids are UUIDs derived from the
namespace and runwatch's ids (version 5), so every process names a run alike. START,
COMPLETE, FAIL (with the error message facet) and ABORT; the task's declared datasets are
the attempt's inputs and outputs, all of the job's are the run's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run, nominal_time_run, parent_run

from runner.dataset_names import Dataset
from runner.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptStarted,
    AttemptSucceeded,
    AttemptTimedOut,
    Event,
    RunCancelled,
    RunFailed,
    RunStarted,
    RunSucceeded,
)
from runner.model import logical_task

PRODUCER = "https://github.com/runwatch/runwatch"
"""The ``producer`` of every event runwatch emits."""
_IDS = uuid.UUID("9a4c4f8e-5a0b-4c57-9a53-1f6f8e0c2d11")
"""The UUID namespace runwatch's OpenLineage run ids are derived in."""

Declared = Mapping[str, tuple[Sequence[Dataset], Sequence[Dataset]]]
"""A job's tasks and the (inputs, outputs) each declares."""

_STATES: dict[type[Event], RunState] = {
    RunStarted: RunState.START,
    RunSucceeded: RunState.COMPLETE,
    RunFailed: RunState.FAIL,
    RunCancelled: RunState.ABORT,
    AttemptStarted: RunState.START,
    AttemptSucceeded: RunState.COMPLETE,
    AttemptFailed: RunState.FAIL,
    AttemptTimedOut: RunState.FAIL,
    AttemptCancelled: RunState.ABORT,
}
_TASK_EVENTS = (AttemptStarted, AttemptSucceeded, AttemptFailed, AttemptTimedOut, AttemptCancelled)


def run_uuid(namespace: str, run_id: int) -> str:
    """The OpenLineage run id of a runwatch run."""
    return str(uuid.uuid5(_IDS, f"{namespace}/run/{run_id}"))


def attempt_uuid(namespace: str, run_id: int, task: str, attempt: int) -> str:
    """The OpenLineage run id of one attempt of a task."""
    return str(uuid.uuid5(_IDS, f"{namespace}/run/{run_id}/{task}/{attempt}"))


def run_event(event: Event, declared: Declared, namespace: str) -> RunEvent | None:
    """The RunEvent of a run or attempt event; None for the events OpenLineage has none for."""
    state = _STATES.get(type(event))
    if state is None or event.run_id is None:
        return None
    facets: dict[str, Any] = {}
    if isinstance(event, _TASK_EVENTS):
        task = event.task or ""
        run_id = attempt_uuid(namespace, event.run_id, task, event.attempt or 1)
        name = f"{event.job}.{task}"
        inputs, outputs = declared.get(logical_task(task), ((), ()))
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_uuid(namespace, event.run_id)),
            job=parent_run.Job(namespace=namespace, name=event.job),
        )
    else:
        run_id, name = run_uuid(namespace, event.run_id), event.job
        inputs = sorted({d for ins, _ in declared.values() for d in ins})
        outputs = sorted({d for _, outs in declared.values() for d in outs})
    if isinstance(event, RunStarted) and event.logical_time is not None:
        facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=event.logical_time.isoformat()
        )
    message = _error(event)
    if message is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=message, programmingLanguage="unknown"
        )
    return RunEvent(
        eventType=state,
        eventTime=event.at.isoformat(),
        run=Run(runId=run_id, facets=facets),
        job=Job(namespace=namespace, name=name),
        producer=PRODUCER,
        inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in inputs],
        outputs=[OutputDataset(namespace=d.namespace, name=d.name) for d in outputs],
    )


def _error(event: Event) -> str | None:
    """What went wrong, for the error message facet of a FAIL."""
    if isinstance(event, AttemptFailed | AttemptTimedOut):
        return event.error or event.reason or "the attempt failed"
    if isinstance(event, RunFailed):
        return event.reason or f"failed tasks: {', '.join(event.failed_tasks)}"
    return None
