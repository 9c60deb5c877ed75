"""A cancel asked from the dashboard (an ``operator_action`` event on the run, written by
another process's connection) stops the run its engine supervises; one asked before
the run started (e.g. of an earlier try of it) does not."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from runner.clock import utcnow
from runner.events import OperatorAction
from runner.model import RunState, TaskState, Trigger
from runner.store.store import Store
from tests.runner.engine.conftest import Harness, job, sh

WAIT = 30.0


def _ask_cancel(url: str, run_id: int, user: str) -> None:
    with Store.open(url, migrate=False, recover=False) as other:
        other.append(
            OperatorAction(
                at=datetime.now(UTC), job="job", run_id=run_id, action="cancel", user=user
            )
        )


def _when_started(pidfile: Path, then: threading.Event) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not pidfile.exists():
        time.sleep(0.05)
    then.set()


def test_a_cancel_asked_through_the_store_stops_the_run(harness: Harness) -> None:
    pidfile = harness.tmp / "pid"
    definition = job(
        sh("long", f"echo $$ > {pidfile}; exec sleep 60"),
        sh("next", "true", after=("long",)),
        kill_grace=0.5,
    )
    now = utcnow()
    run = harness.store.create_run(definition, now, Trigger.MANUAL, now)
    assert run is not None
    url = f"sqlite:///{harness.tmp}/runwatch.db"
    started = threading.Event()

    def ask() -> None:
        _when_started(pidfile, started)
        _ask_cancel(url, run.id, "alice@example.com")

    threading.Thread(target=ask, daemon=True).start()
    final = harness.engine.execute(definition, run)

    assert started.is_set()
    assert final.state is RunState.CANCELLED
    assert final.reason == "cancelled by alice@example.com"
    assert harness.states(final) == {"long": TaskState.CANCELLED, "next": TaskState.CANCELLED}


def test_a_cancel_asked_before_the_run_started_does_not_stop_it(harness: Harness) -> None:
    definition = job(sh("quick", "sleep 2.5"))
    now = utcnow()
    run = harness.store.create_run(definition, now, Trigger.MANUAL, now)
    assert run is not None
    _ask_cancel(f"sqlite:///{harness.tmp}/runwatch.db", run.id, "alice@example.com")

    final = harness.engine.execute(definition, run)

    assert final.state is RunState.SUCCESS
