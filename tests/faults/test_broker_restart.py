"""A broker that loses an attempt's message — a Redis without persistence restarted
empty, a RabbitMQ queue purged — under a real `runwatch serve` on PostgreSQL: the attempt
nobody claims within ``executor.claim_timeout`` is sent again, a real `runwatch worker`
runs it once, and nothing is left `running`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.model import RunState, TaskState
from tests.distributed.conftest import AMQP_URL, Cluster, Process, _cluster, wait_until
from tests.faults.brokers import PrivateRedis, rabbit_purge, rabbit_queued
from tests.faults.harness import (
    assert_one_completion_per_fire_time,
    marked_command,
    marked_job,
    marks,
)

CLAIM_TIMEOUT = "6s"
"""Long enough that the message is lost before it is sent again, even on a loaded CI."""


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[tuple[Cluster, PrivateRedis]]:
    redis = PrivateRedis(tmp_path)
    try:
        for cluster in _cluster(tmp_path, redis.url):
            yield cluster, redis
    finally:
        redis.kill()


@pytest.fixture
def rabbit_cluster(tmp_path: Path) -> Iterator[Cluster]:
    yield from _cluster(tmp_path, AMQP_URL)


def lose_the_first_message(
    cluster: Cluster, queued: Callable[[], int], lose: Callable[[], object]
) -> tuple[Process, int]:
    """Serve with no worker until the first run's attempt waits in the broker, lose it,
    then start a worker; the serve and the run's id."""
    marker = cluster.tmp / "marks"
    cluster.write_config(
        marked_job(marked_command(marker, first_seconds=0.2), retries=0),
        f"  claim_timeout: {CLAIM_TIMEOUT}\nserver:\n  heartbeat_interval: 1s\n",
    )
    serve = cluster.serve()
    wait_until(lambda: queued() >= 1, "the first attempt's message to wait in the broker", 30)
    assert "sent again" not in serve.output(), "claim_timeout ran out before the loss"
    with cluster.store() as store:
        (run,) = [r for r in store.list_runs(limit=10) if r.state is RunState.RUNNING]
    lose()
    assert queued() == 0
    cluster.worker(concurrency=1)
    return serve, run.id


def assert_sent_again_and_run_once(cluster: Cluster, serve: Process, run_id: int) -> None:
    marker = cluster.tmp / "marks"
    with cluster.store() as store:
        wait_until(lambda: store.get_run(run_id).state is RunState.SUCCESS, "the resend", 60)
        (attempt,) = store.attempts(run_id)
        assert attempt.state is TaskState.SUCCESS
        lt = store.get_run(run_id).logical_time.isoformat()
        assert [m.what for m in marks(marker) if m.logical_time == lt] == ["start", "end"]
        assert f"sent again to queue {cluster.queue}" in serve.output()
        later = len(store.list_runs(limit=1000))
        wait_until(lambda: len(store.list_runs(limit=1000)) > later, "the next fire time", 30)
        assert serve.stop() == 0, serve.output()
        assert_one_completion_per_fire_time(store, marker)


def test_an_attempt_lost_with_a_redis_restarted_empty_is_sent_again_and_runs_once(
    redis_cluster: tuple[Cluster, PrivateRedis],
) -> None:
    cluster, redis = redis_cluster
    serve, run_id = lose_the_first_message(
        cluster, lambda: redis.queued(cluster.queue), redis.restart_empty
    )
    assert_sent_again_and_run_once(cluster, serve, run_id)


def test_an_attempt_lost_from_a_purged_rabbitmq_queue_is_sent_again_and_runs_once(
    rabbit_cluster: Cluster,
) -> None:
    cluster = rabbit_cluster
    url, queue = cluster.broker_url, cluster.queue
    serve, run_id = lose_the_first_message(
        cluster, lambda: rabbit_queued(url, queue), lambda: rabbit_purge(url, queue)
    )
    assert_sent_again_and_run_once(cluster, serve, run_id)
