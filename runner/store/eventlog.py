"""The event log and the write discipline every table of the store shares.

Every state change is one transaction that updates its row and appends its event, so
the event log and the tables never disagree. State changes are conditional UPDATEs
(``… WHERE state = 'running'``): when two processes race for the same change, one
wins, and only the winner appends the event.

Events are held until the end of the block that records them and written with one
multi-row INSERT; inside ``turn()`` (the engine's loop turn) they are held to its end,
so a turn that records forty changes writes its events in one statement.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from runner.errors import StoreError
from runner.events import (
    Event,
    event_from_row,
)
from runner.store.database import Database
from runner.store.records import (
    from_epoch,
    to_epoch,
)
from runner.store.spine_sql import EVENT_COLUMNS, to_json

if TYPE_CHECKING:
    from runner.store.lean_connection import Connection

logger = logging.getLogger(__name__)

# 7 parameters an event: well under SQLite's 32,766 and PostgreSQL's 65,535 per statement.
_EVENTS_PER_INSERT = 500
_ROWS_PER_UPDATE = 500


class EventLog:
    """A connection, its transactions, and the append-only event log: what every part of
    the store shares."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[Event] = []
        self._task_states: dict[tuple[int, str], tuple[str, float]] = {}
        self._in_turn = False

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit; a nested block that fails undoes only its writes.

        Inside ``turn()`` a block joins the turn's transaction as it is, without a savepoint.
        """
        if self._in_turn:
            self.db.serialize_event_writes()  # the turn's first write takes the event lock
            yield
            return
        with self.db.transaction():
            yield

    def spine_connection(self) -> Connection:
        """This store's connection, as wrap's lean path takes one: wrap's recorder, the
        spool replay and the liveness checks run the statements of ``spine_sql`` on it, so
        the same code serves wrap (without the store's imports) and ``serve``. Not a door
        for new SQL: a query belongs in a module of this package."""
        return self.db

    @contextmanager
    def turn(self) -> Iterator[None]:
        """One all-or-nothing transaction for many changes, e.g. an engine loop turn.

        Blocks inside it join it without savepoints and their events are written together
        at its end, so the turn costs few statements; its first write takes the event lock
        (on PostgreSQL), so a turn that only reads locks nothing. An error inside it must
        end it: it is rolled back whole, even if an inner block's error was caught.
        """
        if self._in_turn or self.db.in_transaction:
            raise StoreError("turn() cannot be nested in another transaction")
        with self.db.transaction():
            self._in_turn = True
            try:
                yield
                self.flush_task_states()
                self._flush_events()
            except BaseException:
                self._pending.clear()
                self._task_states.clear()
                raise
            finally:
                self._in_turn = False

    @contextmanager
    def recording(self) -> Iterator[None]:
        """A write transaction that appends events: it takes the event lock before any
        row lock, so all writers lock in one order; a check and the append it decides
        (reported yet? then report) made inside it do not race another process."""
        if self._in_turn:
            self.db.serialize_event_writes()
            yield
            return
        with self.db.transaction():
            self.db.serialize_event_writes()
            held = len(self._pending)
            try:
                yield
                self._flush_events()
            except BaseException:
                del self._pending[held:]
                raise

    # -- task states held to the end of a turn ----------------------------------------

    def set_task_state_row(self, run_id: int, task: str, state: str, at_epoch: float) -> None:
        """Set a task row's state: inside a turn at its end, with the turn's other task
        rows in one statement; otherwise now."""
        if self._in_turn:
            self._task_states[(run_id, task)] = (state, at_epoch)
            return
        self.db.execute(
            "UPDATE task_runs SET state = :state, updated_at = :at "
            "WHERE run_id = :run_id AND task = :task",
            {"state": state, "at": at_epoch, "run_id": run_id, "task": task},
        )

    def supersede_task_state(self, run_id: int, task: str) -> None:
        """Forget a held state of this task row: the caller writes a newer one now."""
        self._task_states.pop((run_id, task), None)

    def flush_task_states(self) -> None:
        """Write the held task states, one UPDATE per run; before task rows are read or
        written in bulk."""
        held, self._task_states = self._task_states, {}
        by_run: dict[int, list[tuple[str, str, float]]] = {}
        for (run_id, task), (state, at_epoch) in held.items():
            by_run.setdefault(run_id, []).append((task, state, at_epoch))
        for run_id, rows in by_run.items():
            for start in range(0, len(rows), _ROWS_PER_UPDATE):
                self._update_task_states(run_id, rows[start : start + _ROWS_PER_UPDATE])

    def _update_task_states(self, run_id: int, rows: list[tuple[str, str, float]]) -> None:
        params: dict[str, Any] = {"run_id": run_id}
        states, times, names = [], [], []
        for i, (task, state, at_epoch) in enumerate(rows):
            params.update({f"t{i}": task, f"s{i}": state, f"a{i}": at_epoch})
            states.append(f"WHEN :t{i} THEN :s{i}")
            times.append(f"WHEN :t{i} THEN :a{i}")
            names.append(f":t{i}")
        self.db.execute(
            f"UPDATE task_runs SET state = CASE task {' '.join(states)} END, "
            f"updated_at = CASE task {' '.join(times)} END "
            f"WHERE run_id = :run_id AND task IN ({', '.join(names)})",
            params,
        )

    # -- events -------------------------------------------------------------------

    def append(self, event: Event) -> int:
        """Append an event to the log and return its id."""
        with self.recording():
            self.insert_event(event)
            return self._flush_events()

    def insert_event(self, event: Event) -> None:
        """Queue an event; it is written before the recording transaction commits."""
        self._pending.append(event)

    def _flush_events(self) -> int:
        """Write the queued events, oldest first; the id of the last one (0 if none)."""
        pending, self._pending = self._pending, []
        last = 0
        for start in range(0, len(pending), _EVENTS_PER_INSERT):
            chunk = pending[start : start + _EVENTS_PER_INSERT]
            values = ", ".join(
                f"(:at{i}, :type{i}, :job{i}, :run_id{i}, :task{i}, :attempt{i}, :payload{i})"
                for i in range(len(chunk))
            )
            params: dict[str, Any] = {}
            for i, event in enumerate(chunk):
                params[f"at{i}"] = to_epoch(event.at)
                params[f"type{i}"] = event.type
                params[f"job{i}"] = event.job
                params[f"run_id{i}"] = event.run_id
                params[f"task{i}"] = event.task
                params[f"attempt{i}"] = event.attempt
                params[f"payload{i}"] = to_json(event.payload())
            # Rows of a multi-row VALUES get ids in their order on both databases.
            ids = self.db.rows(
                f"INSERT INTO events {EVENT_COLUMNS} VALUES {values} RETURNING id",
                params,
            )
            last = max(int(r["id"]) for r in ids)
        return last

    def events_after(
        self, after_id: int, *, limit: int = 1000, job: str | None = None
    ) -> list[Event]:
        """Events with id greater than ``after_id``, oldest first."""
        if self._pending:  # a turn's own events, not yet written
            self._flush_events()
        where = "id > :after" + (" AND job = :job" if job is not None else "")
        rows = self.db.rows(
            f"SELECT * FROM events WHERE {where} ORDER BY id LIMIT :limit",
            {"after": after_id, "limit": limit, "job": job},
        )
        return [
            event_from_row(
                id=int(r["id"]),
                type=r["type"],
                at=from_epoch(float(r["at"])),
                job=r["job"],
                run_id=r["run_id"],
                task=r["task"],
                attempt=r["attempt"],
                payload=json.loads(r["payload"]),
            )
            for r in rows
        ]

    def last_event_id(self) -> int:
        """The newest event id, 0 when the log is empty."""
        if self._pending:
            self._flush_events()
        return int(self.db.scalar("SELECT COALESCE(MAX(id), 0) FROM events"))


class Part:
    """One concern of the store (a table, its events): a part works on the connection
    and the event log every part of one ``Store`` shares."""

    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._db = log.db
