"""Writers on separate connections: event ids commit in order, locks never deadlock,
pools never overfill. Every store here has a connection of its own, as separate
processes would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest

from runner.errors import StoreError
from runner.events import RunMissed, RunQueued
from runner.model import Job, Task, Trigger
from runner.store.store import Store
from tests import pg
from tests.storesql import sql

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
JOB = Job(name="etl", tasks={t: Task(t, command=("true",)) for t in ("a", "b", "c", "d")})


@pytest.fixture
def stores(db_url: str) -> Iterator[Callable[[], Store]]:
    """Open as many stores on ``db_url`` as a test needs; all closed after it."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(Store.open(db_url))


class Writer(threading.Thread):
    """Runs one store call in a thread and keeps its result or error."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as exc:
            self.error = exc

    def outcome(self) -> object:
        self.join(timeout=15)
        assert not self.is_alive(), "the writer never finished"
        if self.error is not None:
            raise self.error
        return self.result


def backend_pid(store: Store) -> int | None:
    """The server process of a PostgreSQL store's connection (None on SQLite)."""
    return None if sql(store).is_sqlite else int(sql(store).scalar("SELECT pg_backend_pid()"))


def wait_until_blocked(pid: int | None, observer: Store, writer: Writer) -> None:
    """Return once ``writer``, on the connection served by ``pid``, waits for a lock."""
    if pid is None:
        # SQLite's busy handler gives nothing to observe: it is still waiting if alive.
        writer.join(timeout=0.3)
        assert writer.is_alive(), "the second writer did not wait for the first"
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = sql(observer).scalar(
            "SELECT COUNT(*) FROM pg_locks WHERE pid = :pid AND NOT granted", {"pid": pid}
        )
        if waiting:
            return
        assert writer.is_alive(), "the second writer did not wait for the first"
        time.sleep(0.01)
    pytest.fail("the second writer never waited for the first")


def test_an_event_appended_later_gets_a_later_id_and_commits_after(
    stores: Callable[[], Store],
) -> None:
    first, second, reader = stores(), stores(), stores()
    second_pid = backend_pid(second)

    with first.transaction():
        first_id = first.append(RunMissed(at=T0, job="first"))
        writer = Writer(lambda: second.append(RunMissed(at=T0, job="second")))
        writer.start()
        wait_until_blocked(second_pid, reader, writer)
        # Neither event is visible: the first is uncommitted, the second is not written.
        assert reader.events_after(0) == []

    second_id = writer.outcome()
    assert isinstance(second_id, int)
    assert second_id > first_id
    assert [(e.id, e.job) for e in reader.events_after(0)] == [
        (first_id, "first"),
        (second_id, "second"),
    ]


def test_racing_to_create_the_same_run_inside_a_transaction_does_not_deadlock(
    stores: Callable[[], Store],
) -> None:
    one, two, reader = stores(), stores(), stores()
    two_pid = backend_pid(two)

    with one.transaction():
        one.append(RunMissed(at=T0, job="etl"))  # holds the event lock from here on
        writer = Writer(lambda: two.create_run(JOB, T0, Trigger.SCHEDULE, T0))
        writer.start()
        wait_until_blocked(two_pid, reader, writer)
        mine = one.create_run(JOB, T0, Trigger.MANUAL, T0)

    assert writer.outcome() is None
    assert mine is not None
    assert mine.trigger is Trigger.MANUAL
    assert [type(e) for e in reader.events_after(0)] == [RunMissed, RunQueued]


def test_a_pool_never_admits_more_than_its_size_across_connections(
    stores: Callable[[], Store],
) -> None:
    setup = stores()
    run = setup.create_run(JOB, T0, Trigger.SCHEDULE, T0)
    assert run is not None
    setup.mark_run_started(run, T0)
    contenders = [stores() for _ in JOB.tasks]
    barrier = threading.Barrier(len(contenders))

    def claim(store: Store, task: str) -> object:
        barrier.wait(timeout=10)
        return store.start_attempt(run, task, T0, pool="db", pool_size=1)

    writers = [
        Writer(lambda s=s, t=t: claim(s, t)) for s, t in zip(contenders, JOB.tasks, strict=True)
    ]
    for writer in writers:
        writer.start()
    admitted = [w.outcome() for w in writers]

    assert sum(a is not None for a in admitted) == 1
    assert len(setup.attempts(run.id)) == 1


@pytest.mark.postgresql
def test_stores_in_other_schemas_of_one_database_never_wait_for_each_other() -> None:
    with (
        pg.temporary_schema() as one_url,
        pg.temporary_schema() as other_url,
        Store.open(one_url) as one,
        Store.open(other_url) as other,
    ):
        with one.transaction():
            one.append(RunMissed(at=T0, job="one"))  # holds its schema's event lock
            writer = Writer(lambda: other.append(RunMissed(at=T0, job="other")))
            writer.start()
            assert isinstance(writer.outcome(), int)
            with pytest.raises(StoreError, match="lock timeout"):
                # …while a second writer in the same schema does wait.
                blocked_writer_in(one_url)
        assert [e.job for e in other.events_after(0)] == ["other"]


def blocked_writer_in(url: str) -> None:
    with Store.open(url) as same:
        sql(same).execute("SET lock_timeout = '200ms'")
        same.append(RunMissed(at=T0, job="same"))
