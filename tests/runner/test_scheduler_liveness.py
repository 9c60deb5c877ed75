"""Is the scheduler alive: one rule (``runner.scheduler_liveness``), the same answer
from the store's heartbeats for `wrap`/`check` and for the dashboard's headline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.database import connect_readonly
from runner import scheduler_liveness
from runner.store import dashboard_reads as queries
from runner.store.store import Store
from runner.wrap.alert_gaps import serve_alive

T0 = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_a_scheduler_is_gone_after_four_missed_beats_and_never_sooner_than_a_minute() -> None:
    assert scheduler_liveness.stale_after() == 60.0
    assert scheduler_liveness.stale_after(30.0) == 120.0
    assert scheduler_liveness.stale_after(1.0) == 4.0  # no floor: a quick takeover
    assert scheduler_liveness.is_alive(0.0, 60.0)
    assert not scheduler_liveness.is_alive(0.0, 60.5)
    assert not scheduler_liveness.is_alive(0.0, 1.0, stopped=True)
    assert not scheduler_liveness.is_alive(None, 1.0)


@pytest.mark.parametrize(
    ("age", "state", "alive"),
    [
        (10.0, "running", True),
        (59.0, "running", True),
        (61.0, "running", False),
        (1.0, "stopped", False),
    ],
)
def test_wrap_and_the_dashboard_agree_on_a_stored_heartbeat(
    store: Store, db_url: str, age: float, state: str, alive: bool
) -> None:
    store.heartbeat(scheduler_liveness.heartbeat_name("host:1:2"), T0, {"state": state})
    now = T0 + timedelta(seconds=age)

    engine = connect_readonly(db_url)
    try:
        with engine.connect() as conn:
            head = queries.headline(conn, now, T0)
    finally:
        engine.dispose()
    assert head.heartbeat_at == T0
    seen = scheduler_liveness.is_alive(
        head.heartbeat_at.timestamp(),
        now.timestamp(),
        stopped=head.heartbeat_state == scheduler_liveness.STOPPED,
    )
    assert (serve_alive(store.spine_connection(), now.timestamp()), seen) == (alive, alive)
