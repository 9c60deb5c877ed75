"""Operations done from the dashboard, as the event log holds them (``operator_action``).

An operation is one event, with the user's identity: the dashboard appends it
(``EventLog.append``); a cancel request is such an event on the run, which the engine
supervising the run polls for (``cancel_requests``) and then cancels the run itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from runner.dashboard_access import Action
from runner.events import OperatorAction, RunStarted
from runner.store.store import Store


def cancel_requests(store: Store, run_ids: Iterable[int]) -> dict[int, str]:
    """Of ``run_ids``, the runs someone asked to cancel after the run last started (a
    request made of an earlier try does not stop a rerun): run id to who asked."""
    names = {f"r{i}": run_id for i, run_id in enumerate(run_ids)}
    if not names:
        return {}
    rows = store._db.rows(
        "SELECT e.run_id, e.payload FROM events e WHERE e.type = :asked "
        f"AND e.run_id IN ({', '.join(':' + name for name in names)}) "
        "AND e.id > (SELECT MAX(s.id) FROM events s WHERE s.run_id = e.run_id "
        "AND s.type = :started) ORDER BY e.id",
        {"asked": OperatorAction.type, "started": RunStarted.type, **names},
    )
    asked: dict[int, str] = {}
    for row in rows:
        payload = json.loads(row["payload"])
        if payload.get("action") == Action.CANCEL.value:
            asked.setdefault(int(row["run_id"]), str(payload.get("user") or "someone"))
    return asked
