"""kill -9 of a real `runwatch worker` mid-task, under a real `runwatch serve` on
PostgreSQL: the command runs on under its keeper and is adopted with its real exit
status, never run again, never beside itself, never falsely failed."""

from __future__ import annotations

from runner.clock import utcnow
from runner.model import RunState, TaskState
from runner.store.leases import lease
from runner.store.recovery import ADOPTED, ORPHANED
from runner.store.store import Store
from tests.distributed.conftest import Cluster, parent_pid, wait_until
from tests.faults.harness import (
    assert_one_completion_per_fire_time,
    marked_command,
    marked_job,
    marks,
    running_run,
)


def kill_the_worker_running_a_command(cluster: Cluster, store: Store, workers: int = 2) -> int:
    """Once a run's command runs on one of ``workers`` workers, SIGKILL that worker (and its
    pool); the id of the run."""
    started = [cluster.worker(concurrency=1) for _ in range(workers)]
    cluster.serve()
    wait_until(lambda: running_run(store) is not None, "a command to run on a worker", 60)
    run = running_run(store)
    assert run is not None
    (attempt,) = store.attempts(run.id)
    owner = parent_pid(int(str(attempt.supervisor).split(":")[1]))
    (victim,) = [w for w in started if w.pid == owner]
    victim.kill()
    return run.id


def test_a_worker_killed_mid_task_has_its_command_adopted_not_run_again(
    any_broker_cluster: Cluster,
) -> None:
    cluster = any_broker_cluster
    marker = cluster.tmp / "marks"
    # The command outlasts the keeper's fence (orphan_after less two heartbeats, 2 s): the
    # serve of this host renews its lease while it waits, so the keeper lets it run on.
    cluster.write_config(
        marked_job(marked_command(marker, first_seconds=6), retries=1),
        "server:\n  heartbeat_interval: 1s\n",
    )
    with cluster.store() as store:
        run_id = kill_the_worker_running_a_command(cluster, store)
        wait_until(lambda: store.get_run(run_id).state is RunState.SUCCESS, "the adoption", 60)
        [attempt] = store.attempts(run_id)
        assert (attempt.state, attempt.exit_code, attempt.reason) == (
            TaskState.SUCCESS,
            0,
            ADOPTED,
        )
        lt = store.get_run(run_id).logical_time.isoformat()
        assert [m.what for m in marks(marker) if m.logical_time == lt] == ["start", "end"]
        later = len(store.list_runs(limit=1000))
        wait_until(
            lambda: len(store.list_runs(limit=1000)) > later + 1, "the survivor to run on", 60
        )
        for process in cluster.processes:
            if process.popen.poll() is None and "serve" in process.log.name:
                assert process.stop() == 0, process.output()
        wait_until(lambda: running_run(store) is None, "the last runs to end", 60)
        assert_one_completion_per_fire_time(store, marker)


def test_a_killed_workers_command_that_fails_is_recorded_with_its_own_exit_code(
    cluster: Cluster,
) -> None:
    marker = cluster.tmp / "marks"
    cluster.write_config(
        marked_job(marked_command(marker, first_seconds=2) + "; exit 4", retries=0),
        "server:\n  heartbeat_interval: 1s\n",
    )
    with cluster.store() as store:
        run_id = kill_the_worker_running_a_command(cluster, store)
        wait_until(lambda: store.get_run(run_id).state is RunState.FAILED, "the adoption", 60)
        [attempt] = store.attempts(run_id)
        assert (attempt.state, attempt.exit_code) == (TaskState.FAILED, 4)
        assert attempt.reason == f"{ADOPTED}: exit code 4"
        lt = store.get_run(run_id).logical_time.isoformat()
        assert [m.what for m in marks(marker) if m.logical_time == lt] == ["start", "end"]


def test_the_serve_of_the_host_keeps_a_killed_workers_command_leased_until_it_adopts_it(
    cluster: Cluster,
) -> None:
    """No other worker: the serve waiting for the command renews its lease, so the keeper
    does not stop it at its fence (2 s here) and no host takes the attempt over."""
    marker = cluster.tmp / "marks"
    cluster.write_config(
        marked_job(marked_command(marker, first_seconds=6), retries=0),
        "server:\n  heartbeat_interval: 1s\n",
    )
    with cluster.store() as store:
        run_id = kill_the_worker_running_a_command(cluster, store, workers=1)
        wait_until(lambda: store.get_run(run_id).state.finished, "the adoption", 60)
        [attempt] = store.attempts(run_id)
        assert (attempt.state, attempt.exit_code, attempt.reason) == (
            TaskState.SUCCESS,
            0,
            ADOPTED,
        )
        lt = store.get_run(run_id).logical_time.isoformat()
        assert [m.what for m in marks(marker) if m.logical_time == lt] == ["start", "end"]


def test_a_restarted_worker_keeps_the_lease_of_its_dead_predecessors_command_and_adopts_it(
    cluster: Cluster,
) -> None:
    """The worker and the serve are both killed, so no process on this host watches the
    attempt; a new worker must keep its lease (a serve on another host would otherwise
    judge it orphaned and run it again) and record the keeper's status."""
    marker, hold = cluster.tmp / "marks", cluster.tmp / "hold"
    cluster.write_config(
        marked_job(marked_command(marker, hold=hold), retries=1),
        "server:\n  heartbeat_interval: 1s\n",
        orphan_after="60s",  # the new worker renews the lease before the keeper's fence
    )
    first_worker = cluster.worker(concurrency=1)
    first_serve = cluster.serve()
    with cluster.store() as store:
        wait_until(lambda: running_run(store) is not None, "a command to run on a worker", 60)
        run = running_run(store)
        assert run is not None
        (attempt,) = store.attempts(run.id)
        first_serve.kill()
        first_worker.kill()
        killed_at = utcnow()
        cluster.worker(concurrency=1)

        def renewed() -> bool:
            found = lease(store, attempt.id)
            return found is not None and (found.heartbeat_at or killed_at) > killed_at

        wait_until(renewed, "the new worker to renew the dead worker's lease", 30)
        hold.touch()

        def decided() -> bool:
            found = lease(store, attempt.id)
            return found is not None and found.outcome is not None

        wait_until(decided, "the new worker to record the command's end", 30)
        found = lease(store, attempt.id)
        assert found is not None
        assert found.outcome == {"state": "success", "reason": ADOPTED, "exit_code": 0}
        serve = cluster.serve()
        wait_until(lambda: store.get_run(run.id).state is RunState.SUCCESS, "the run's end", 60)
        assert serve.stop() == 0, serve.output()
        events = [e.type for e in store.events_after(0) if e.run_id == run.id]
        assert "run_failed" not in events, events
        [ended] = store.attempts(run.id)
        assert (ended.state, ended.exit_code, ended.reason) == (TaskState.SUCCESS, 0, ADOPTED)
        lt = run.logical_time.isoformat()
        assert [m.what for m in marks(marker) if m.logical_time == lt] == ["start", "end"]
        assert_one_completion_per_fire_time(store, marker)


def test_a_worker_dead_where_nothing_renews_its_lease_has_its_command_stopped_before_the_retry(
    cluster: Cluster,
) -> None:
    """A worker of another host (a UTS namespace of its own) is killed, and nothing of
    runwatch runs there any more: its command's keeper stops the command once the lease
    can no longer be renewed in time, before the serve here sees the lease expire, fails
    the attempt `orphaned` and retries it on a worker of this host."""
    marker, hold = cluster.tmp / "marks", cluster.tmp / "never"
    cluster.write_config(
        marked_job(marked_command(marker, hold=hold), retries=1),
        "server:\n  heartbeat_interval: 1s\n",
        heartbeat="1s",
        orphan_after="6s",
    )
    remote = cluster.worker(concurrency=1, host="another-host")
    cluster.serve()
    with cluster.store() as store:
        wait_until(lambda: running_run(store) is not None, "a command to run on a worker", 60)
        run = running_run(store)
        assert run is not None
        (attempt,) = store.attempts(run.id)
        assert str(attempt.supervisor).startswith("another-host:")
        cluster.worker(concurrency=1)  # on this host, for the retry
        remote.kill()  # its command, waiting for a file nobody creates, runs on
        try:
            wait_until(lambda: store.get_run(run.id).state.finished, "the retried run's end", 60)
        finally:
            hold.touch()  # a command the keeper did not stop must not outlive the test
        first, second = store.attempts(run.id)
        assert (first.state, first.reason) == (TaskState.FAILED, ORPHANED)
        assert second.state is TaskState.SUCCESS
        assert store.get_run(run.id).state is RunState.SUCCESS
        lt = run.logical_time.isoformat()
        assert [(m.what, m.attempt) for m in marks(marker) if m.logical_time == lt] == [
            ("start", 1),
            ("start", 2),
            ("end", 2),
        ]
        for process in cluster.processes:
            if process.popen.poll() is None and "serve" in process.log.name:
                assert process.stop() == 0, process.output()
        wait_until(lambda: running_run(store) is None, "the last runs to end", 60)
        assert_one_completion_per_fire_time(store, marker)
