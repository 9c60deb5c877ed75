"""A mapped task's outputs: each successful instance (``shout[0]``…) updates them, as its
task; the update events name the task, not the instance."""

from __future__ import annotations

from dataclasses import replace

from runner.dataset_names import Dataset
from runner.events import DatasetUpdated
from runner.model import RunState
from runner.store.datasets import dataset_states
from tests.runner.engine.conftest import Harness, job
from tests.runner.engine.test_mapping import list_files, shouting

OUT = Dataset("s3://bucket", "shouted/")


def test_each_successful_instance_of_a_mapped_task_updates_its_outputs(harness: Harness) -> None:
    lister, shout = shouting(list_files)
    run = harness.run(job(lister, replace(shout, outputs=(OUT,))))
    assert run.state is RunState.SUCCESS
    events = [e for e in harness.store.events_after(0, limit=1000) if isinstance(e, DatasetUpdated)]
    assert len(events) == 3  # one per instance
    assert {e.task for e in events} == {"shout"}
    (state,) = dataset_states(harness.store)
    assert state.producers == ("job/shout",)
    assert state.last_update is not None
    assert state.last_update.run_id == run.id
