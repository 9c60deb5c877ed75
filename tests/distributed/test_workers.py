"""The Celery executor with real `runwatch worker` processes, PostgreSQL and a broker:
an engine in this process dispatches, the workers run the attempts."""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.clock import utcnow
from runner.config import load_settings
from runner.definitions import load_definitions
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.executors.celery import CeleryExecutor, celery_settings
from runner.model import Job, RunState, TaskState, Trigger
from runner.store.records import RunRecord
from runner.store.store import Store
from tests.distributed.conftest import (
    Cluster,
    delete_queue,
    parent_pid,
    process_exists,
    wait_until,
)

LOGICAL_TIME = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class Dispatcher:
    """An engine with the Celery executor, configured like `runwatch serve` would be."""

    def __init__(self, cluster: Cluster) -> None:
        env = cluster.env()
        settings = load_settings(cluster.config, env=env, cwd=cluster.tmp)
        self.jobs = load_definitions([cluster.tmp / "jobs.yaml"]).jobs
        self.store = Store.open(cluster.db_url, recover=False)
        messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        executor = CeleryExecutor(messages, celery_settings(settings, env), db_url=cluster.db_url)
        self.engine = Engine(
            self.store, executor, messages, log_dir=cluster.tmp / "logs", workers=64
        )

    def create_run(self, job: str) -> RunRecord:
        self.store.sync_jobs(self.jobs.values(), utcnow())
        run = self.store.create_run(self.jobs[job], LOGICAL_TIME, Trigger.MANUAL, utcnow())
        assert run is not None
        return run

    def job(self, name: str) -> Job:
        return self.jobs[name]

    def close(self) -> None:
        self.engine.close()
        self.store.close()


@pytest.fixture
def dispatcher_for() -> Iterator[list[Dispatcher]]:
    made: list[Dispatcher] = []
    yield made
    for dispatcher in made:
        dispatcher.close()


def fifty_task_dag() -> str:
    """A root, four layers of twelve tasks each after the one above, and a sink."""
    lines = ["jobs:", "  fanout:", "    tasks:", "      root:", "        command: 'true'"]
    above = ["root"]
    for layer in range(4):
        names = [f"l{layer}t{i}" for i in range(12)]
        for i, name in enumerate(names):
            after = above[i % len(above)]
            lines += [
                f"      {name}:",
                f"        after: [{after}]",
                "        command: 'echo $RUNWATCH_TASK'",
            ]
        above = names
    lines += ["      sink:", f"        after: [{', '.join(above)}]", "        command: 'true'"]
    return "\n".join(lines) + "\n"


def test_a_fifty_task_dag_runs_through_two_workers(
    cluster: Cluster, dispatcher_for: list[Dispatcher]
) -> None:
    cluster.write_config(fifty_task_dag())
    workers = [cluster.worker(concurrency=2), cluster.worker(concurrency=2)]
    dispatcher = Dispatcher(cluster)
    dispatcher_for.append(dispatcher)
    run = dispatcher.create_run("fanout")

    finished = dispatcher.engine.execute(dispatcher.job("fanout"), run)

    assert finished.state is RunState.SUCCESS, finished.reason
    with cluster.store() as store:
        attempts = store.attempts(run.id)
        tasks = store.task_runs(run.id)
        events = store.events_after(0)
    assert len(tasks) == 50
    assert {t.state for t in tasks.values()} == {TaskState.SUCCESS}
    assert len(attempts) == 50, "each task ran once"
    assert all(a.number == 1 and a.state is TaskState.SUCCESS for a in attempts)
    # Each attempt's start and end were written once, by the engine that dispatched it.
    per_attempt = Counter((e.type, e.task) for e in events if e.task is not None)
    assert set(per_attempt.values()) == {1}
    assert {t for (kind, t) in per_attempt if kind == "attempt_succeeded"} == set(tasks)
    # Both workers ran some: each attempt's supervisor is a process of one of them.
    hosts = {parent_pid(int(str(a.supervisor).split(":")[1])) for a in attempts}
    assert hosts == {w.pid for w in workers}
    # Output was captured where the task ran, at the path the engine chose.
    layer_task = next(a for a in attempts if a.task == "l2t5")
    assert layer_task.stdout_path is not None
    assert Path(layer_task.stdout_path).read_text() == "l2t5\n"


def test_a_worker_killed_mid_python_task_is_orphaned_and_the_task_retried(
    any_broker_cluster: Cluster, dispatcher_for: list[Dispatcher]
) -> None:
    """A Python task has no keeper to outlive its worker (a command's is adopted:
    tests/faults/test_worker_death.py): its attempt is failed orphaned and retried."""
    cluster = any_broker_cluster
    starts = cluster.tmp / "starts"
    (cluster.tmp / "fragile_steps.py").write_text(  # a module name no other test imports
        "import pathlib, time\n\ndef work(path):\n    p = pathlib.Path(path)\n"
        "    first = not p.exists()\n    with p.open('a') as f:\n        f.write('start\\n')\n"
        "    if first:\n        time.sleep(60)\n"
    )
    cluster.write_config(
        "jobs:\n  fragile:\n    tasks:\n      work:\n        retries: 1\n"
        "        retry_delay: 100ms\n"
        f"        python: 'fragile_steps:work'\n        args: ['{starts}']\n"
    )
    workers = [cluster.worker(concurrency=1), cluster.worker(concurrency=1)]
    dispatcher = Dispatcher(cluster)
    dispatcher_for.append(dispatcher)
    run = dispatcher.create_run("fragile")
    result: list[RunRecord] = []
    engine_thread = threading.Thread(
        target=lambda: result.append(dispatcher.engine.execute(dispatcher.job("fragile"), run))
    )
    engine_thread.start()
    with cluster.store() as store:

        def first_attempt_running() -> bool:
            attempts = store.attempts(run.id)
            return bool(attempts) and attempts[0].pid is not None and starts.exists()

        wait_until(first_attempt_running, "the first attempt to run on a worker")
        first = store.attempts(run.id)[0]
    owner_pid = parent_pid(int(str(first.supervisor).split(":")[1]))
    (victim,) = [w for w in workers if w.pid == owner_pid]
    victim.kill()  # SIGKILL to the worker and its pool; the task's own group lives on

    engine_thread.join(timeout=60)
    assert not engine_thread.is_alive(), "the run did not finish"
    (finished,) = result
    assert finished.state is RunState.SUCCESS, finished.reason
    with cluster.store() as store:
        attempts = store.attempts(run.id)
        events = store.events_after(0)
    assert [a.state for a in attempts] == [TaskState.FAILED, TaskState.SUCCESS]
    assert attempts[0].reason == "orphaned"
    assert starts.read_text() == "start\nstart\n", "the task never ran twice at once"
    assert first.pid is not None
    assert not process_exists(first.pid), "the orphan's leftover process was killed"
    failed = [e for e in events if e.type == "attempt_failed"]
    assert len(failed) == 1
    assert failed[0].payload()["will_retry"] is True
    survivor = next(w for w in workers if w is not victim)
    assert parent_pid(int(str(attempts[1].supervisor).split(":")[1])) == survivor.pid
    if cluster.broker_url.startswith("amqp"):
        # RabbitMQ gave the dead worker's message to the survivor, which refused it.
        survivor.wait_for_output("message dropped", "the redelivery to be dropped", 10)


def process_group_members(pgid: int) -> list[int]:
    """Live processes in a process group, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                members.append(int(entry.name))
    return members


def test_a_task_timeout_on_a_worker_kills_its_whole_process_group(
    cluster: Cluster, dispatcher_for: list[Dispatcher]
) -> None:
    cluster.write_config(
        "jobs:\n  stuck:\n    kill_grace: 500ms\n    tasks:\n      hang:\n        timeout: 1s\n"
        "        command: 'sleep 60 & echo started; exec sleep 60'\n"
    )
    cluster.worker(concurrency=1)
    dispatcher = Dispatcher(cluster)
    dispatcher_for.append(dispatcher)
    run = dispatcher.create_run("stuck")

    finished = dispatcher.engine.execute(dispatcher.job("stuck"), run)

    assert finished.state is RunState.FAILED
    (attempt,) = dispatcher.store.attempts(run.id)
    assert attempt.state is TaskState.TIMED_OUT
    assert attempt.pid is not None
    wait_until(lambda: not process_group_members(attempt.pid or 0), "the group to be gone", 5)
    assert attempt.stdout_path is not None
    assert Path(attempt.stdout_path).read_text() == "started\n"


def test_an_attempt_no_worker_picked_up_is_cancelled_at_once(
    cluster: Cluster, dispatcher_for: list[Dispatcher]
) -> None:
    idle_queue = f"{cluster.queue}-unserved"
    cluster.write_config(
        f"jobs:\n  waiting:\n    tasks:\n      t:\n        queue: {idle_queue}\n"
        "        command: 'true'\n"
    )
    dispatcher = Dispatcher(cluster)
    dispatcher_for.append(dispatcher)
    run = dispatcher.create_run("waiting")
    assert dispatcher.engine.start(dispatcher.job("waiting"), run)
    try:
        with cluster.store() as store:
            wait_until(lambda: bool(store.attempts(run.id)), "the attempt to be dispatched")
        dispatcher.engine.cancel("operator cancelled it", run.id)
        dispatcher.engine.run_until_done()
    finally:
        delete_queue(cluster.broker_url, idle_queue)
    assert dispatcher.store.get_run(run.id).state is RunState.CANCELLED
    (attempt,) = dispatcher.store.attempts(run.id)
    assert (attempt.state, attempt.reason) == (TaskState.CANCELLED, "operator cancelled it")


def test_an_attempt_no_worker_claims_is_sent_again_then_failed_with_the_reason(
    cluster: Cluster, dispatcher_for: list[Dispatcher], caplog: pytest.LogCaptureFixture
) -> None:
    idle_queue = f"{cluster.queue}-unserved"  # its message is never consumed, as if lost
    cluster.write_config(
        f"jobs:\n  stranded:\n    tasks:\n      t:\n        queue: {idle_queue}\n"
        "        command: 'true'\n",
        "  claim_timeout: 1s\n",
    )
    dispatcher = Dispatcher(cluster)
    dispatcher_for.append(dispatcher)
    run = dispatcher.create_run("stranded")
    try:
        assert dispatcher.engine.start(dispatcher.job("stranded"), run)
        dispatcher.engine.run_until_done()
    finally:
        delete_queue(cluster.broker_url, idle_queue)

    assert dispatcher.store.get_run(run.id).state is RunState.FAILED
    (attempt,) = dispatcher.store.attempts(run.id)
    assert (attempt.state, attempt.reason) == (TaskState.FAILED, "not claimed")
    assert attempt.error is not None
    assert f"queue {idle_queue!r}" in attempt.error
    assert "runwatch worker" in attempt.error
    sent_again = [r for r in caplog.records if "sent again to queue" in r.getMessage()]
    assert len(sent_again) == 1


def test_a_python_task_runs_in_a_forked_worker_and_returns_its_result(
    cluster: Cluster, dispatcher_for: list[Dispatcher]
) -> None:
    (cluster.tmp / "steps.py").write_text(
        "import os\n\ndef count(n):\n    return {'rows': n, 'pid': os.getpid()}\n"
    )
    cluster.write_config(
        "jobs:\n  py:\n    tasks:\n      count:\n        python: 'steps:count'\n        args: [3]\n"
    )
    worker = cluster.worker(concurrency=1)
    dispatcher = Dispatcher(cluster)
    dispatcher_for.append(dispatcher)
    run = dispatcher.create_run("py")

    finished = dispatcher.engine.execute(dispatcher.job("py"), run)

    assert finished.state is RunState.SUCCESS, finished.reason
    (attempt,) = dispatcher.store.attempts(run.id)
    assert attempt.result["rows"] == 3
    pool_process = int(str(attempt.supervisor).split(":")[1])
    assert parent_pid(pool_process) == worker.pid
    assert attempt.result["pid"] == attempt.pid != pool_process  # a forked Python worker


def test_the_instances_of_a_mapped_task_run_on_workers_with_their_elements(
    cluster: Cluster, dispatcher_for: list[Dispatcher]
) -> None:
    cluster.write_config(
        "jobs:\n  mapped:\n    tasks:\n"
        '      list:\n        command: echo \'["a", "b", "c"]\' > "$RUNWATCH_RESULT"\n'
        "      each:\n        map_over: list\n"
        '        command: echo "[$RUNWATCH_MAP_INDEX, $RUNWATCH_MAP_ITEM]" > "$RUNWATCH_RESULT"\n'
        "      load:\n        after: [each]\n"
        '        command: cp "$RUNWATCH_UPSTREAM_RESULTS" "$RUNWATCH_RESULT"\n'
    )
    cluster.worker(concurrency=2)
    dispatcher = Dispatcher(cluster)
    dispatcher_for.append(dispatcher)
    run = dispatcher.create_run("mapped")

    finished = dispatcher.engine.execute(dispatcher.job("mapped"), run)

    assert finished.state is RunState.SUCCESS, finished.reason
    results = dispatcher.store.results(run.id)
    assert results["each[2]"] == [2, "c"]
    assert results["load"] == {"each": [[0, "a"], [1, "b"], [2, "c"]]}
    logs = {a.task: a.stdout_path for a in dispatcher.store.attempts(run.id)}
    assert str(logs["each[1]"]).endswith("each[1].1.out")
