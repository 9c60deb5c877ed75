"""The event payload codec: typed fields (datetimes, enums) stored as the text rows
already in a store hold, so old rows read back as the same typed events."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from runner.events import Event, RunMissed, RunQueued, RunSkipped, RunStarted
from runner.model import Trigger
from runner.store.store import Store
from tests.storesql import sql

T0 = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)
FIRE = datetime(2027, 3, 1, 11, 0, 0, tzinfo=UTC)


def old_row(store: Store, type: str, payload: str) -> Event:
    """An event row as written before the fields were typed (and as `wrap` writes it)."""
    with sql(store).transaction():
        sql(store).execute(
            "INSERT INTO events (at, type, job, run_id, task, attempt, payload) "
            "VALUES (:at, :type, 'nightly', NULL, NULL, NULL, :payload)",
            {"at": T0.timestamp(), "type": type, "payload": payload},
        )
    (event,) = store.events_after(0)
    return event


@pytest.mark.parametrize(
    ("type", "payload", "expected"),
    [
        (
            "run_queued",
            '{"logical_time":"2027-03-01T11:00:00+00:00","trigger":"schedule"}',
            RunQueued(at=T0, job="nightly", logical_time=FIRE, trigger=Trigger.SCHEDULE),
        ),
        (
            "run_started",
            '{"lag_seconds":1.5,"logical_time":"2027-03-01T11:00:00+00:00","trigger":"wrap"}',
            RunStarted(
                at=T0, job="nightly", logical_time=FIRE, trigger=Trigger.WRAP, lag_seconds=1.5
            ),
        ),
        ("run_queued", '{"logical_time":"","trigger":""}', RunQueued(at=T0, job="nightly")),
        (
            "run_skipped",
            '{"logical_time":"2027-03-01T11:00:00+00:00","reason":"overlap"}',
            RunSkipped(at=T0, job="nightly", logical_time=FIRE, reason="overlap"),
        ),
        (
            "run_missed",
            '{"expected_at":"2027-03-01T11:00:00+00:00"}',
            RunMissed(at=T0, job="nightly", expected_at=FIRE),
        ),
    ],
)
def test_a_row_stored_before_the_fields_were_typed_reads_back_typed(
    store: Store, type: str, payload: str, expected: Event
) -> None:
    event = old_row(store, type, payload)

    assert event == dataclasses.replace(expected, id=event.id)


def test_a_typed_event_is_stored_as_the_text_old_rows_hold(store: Store) -> None:
    event = RunQueued(at=T0, job="nightly", logical_time=FIRE, trigger=Trigger.BACKFILL)
    with sql(store).transaction():
        store.append(event)

    stored = sql(store).scalar("SELECT payload FROM events")
    assert stored == '{"logical_time":"2027-03-01T11:00:00+00:00","trigger":"backfill"}'
    assert store.events_after(0) == [dataclasses.replace(event, id=1)]
