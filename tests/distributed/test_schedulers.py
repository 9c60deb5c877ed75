"""Several `runwatch serve` processes sharing one PostgreSQL, with Celery workers on Redis.

As the issue asks, the schedulers share a second-level schedule for a minute (60 fire
times, each raced by both).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable

import pytest

from runner.events import Event
from runner.model import RunState
from runner.store.records import RunRecord
from runner.store.store import Store
from tests.distributed.conftest import Cluster, HookServer, wait_until

SECOND_LEVEL_JOBS = """\
jobs:
  tick:
    schedule: '* * * * * *'
    command: 'true'
  boom_a:
    schedule: '* * * * * *'
    command: 'exit 3'
  boom_b:
    schedule: '* * * * * */2'
    command: 'exit 4'
"""


def alerting_to(hook: HookServer) -> str:
    return (
        "server:\n"
        "  heartbeat_interval: 1s\n"
        "alerting:\n"
        "  receivers:\n"
        f"    hook: {{webhook: {{url: '{hook.url}'}}}}\n"
        "  route:\n"
        "    receiver: hook\n"
        "    group_by: [alertname, job]\n"
        "    group_wait: 0s\n"
        "    group_interval: 1h\n"
        "    repeat_interval: 1h\n"
        "  rules:\n"
        "    - {alert: JobFailed, when: run_failed, severity: error}\n"
    )


def all_runs(store: Store) -> list[RunRecord]:
    return store.list_runs(limit=100_000)


def assert_each_written_once(store: Store, runs: Iterable[RunRecord]) -> None:
    """No (job, logical time) twice; one attempt per task; each event of each run and
    attempt once (a resumed run starts twice, once per scheduler that ran it)."""
    runs = list(runs)
    keys = Counter((r.job, r.logical_time) for r in runs)
    assert max(keys.values()) == 1, "a fire time got two runs"
    events: list[Event] = store.events_after(0, limit=1_000_000)
    starts = Counter((e.run_id, e.task, e.attempt) for e in events if e.type == "attempt_started")
    ends = Counter(
        (e.run_id, e.task, e.attempt)
        for e in events
        if e.type in ("attempt_succeeded", "attempt_failed", "attempt_cancelled")
    )
    assert set(starts.values()) == {1}, "an attempt was started twice"
    assert set(ends.values()) == {1}, "an attempt's end was written twice"
    for run in runs:
        numbers = [a.number for a in store.attempts(run.id)]
        assert len(numbers) == len(set(numbers)), f"run {run.id}: an attempt number repeats"


@pytest.mark.timeout(300)
def test_two_schedulers_share_a_second_level_schedule_without_duplicates(
    cluster: Cluster, hook: HookServer
) -> None:
    cluster.write_config(SECOND_LEVEL_JOBS, alerting_to(hook))
    cluster.worker(concurrency=2)
    cluster.worker(concurrency=2)
    serves = [cluster.serve(), cluster.serve()]
    with cluster.store() as store:
        wait_until(lambda: len(store.list_runs(job="tick", limit=200)) >= 60, "60 ticks", 120)
        for serve in serves:
            assert serve.stop() == 0, serve.output()
        runs = all_runs(store)
        assert_each_written_once(store, runs)
        assert {r.state for r in runs} <= {RunState.SUCCESS, RunState.FAILED, RunState.CANCELLED}
        ticks = [r for r in runs if r.job == "tick"]
        assert sum(r.state is RunState.SUCCESS for r in ticks) >= 55
        # Both schedulers took part: each started some of the runs.
        owners = Counter(str(r.supervisor).split(":")[1] for r in runs)
        assert set(owners) == {str(s.pid) for s in serves}, owners
    # Each alert was sent once, by one of the two schedulers, though both evaluate.
    fingerprints = Counter(a["fingerprint"] for body in hook.bodies for a in body["alerts"])
    jobs = sorted(body["group_labels"]["job"] for body in hook.bodies)
    assert jobs == ["boom_a", "boom_b"], hook.bodies
    assert set(fingerprints.values()) == {1}


def test_a_killed_scheduler_leaves_the_other_running_everything(cluster: Cluster) -> None:
    cluster.write_config(
        "jobs:\n  tick:\n    schedule: '* * * * * *'\n    retries: 1\n    retry_delay: 100ms\n"
        "    command: 'sleep 0.8'\n",
        "server:\n  heartbeat_interval: 1s\n",
    )
    cluster.worker(concurrency=2)
    cluster.worker(concurrency=2)
    doomed, survivor = cluster.serve(), cluster.serve()
    with cluster.store() as store:

        def doomed_runs() -> list[RunRecord]:
            return [
                r
                for r in all_runs(store)
                if r.state is RunState.RUNNING and str(doomed.pid) in str(r.supervisor)
            ]

        wait_until(lambda: bool(doomed_runs()), "the doomed scheduler to run a tick")
        doomed.kill()
        left = doomed_runs()
        killed_at = time.time()

        def ticks_after_kill() -> int:
            return sum(r.queued_at.timestamp() > killed_at for r in all_runs(store))

        def none_left_to_the_dead() -> bool:
            return not any(
                r.state in (RunState.RUNNING, RunState.QUEUED)
                and str(doomed.pid) in str(r.supervisor)
                for r in all_runs(store)
            )

        wait_until(lambda: ticks_after_kill() >= 5, "five more ticks after the kill", 30)
        wait_until(none_left_to_the_dead, "the dead scheduler's runs to be taken over", 30)
        assert survivor.stop() == 0, survivor.output()
        runs = all_runs(store)
        assert_each_written_once(store, runs)
        assert not [r for r in runs if r.state in (RunState.RUNNING, RunState.QUEUED)]
        # Each run the dead scheduler left ends as its task did on the worker (or, when no
        # worker had claimed the attempt yet, is failed orphaned and resumed to success).
        assert left
        assert [store.get_run(r.id).state for r in left] == [RunState.SUCCESS] * len(left)
    for run in left:
        assert re.search(rf"\brun {run.id} of tick\b", survivor.output()), run.id
