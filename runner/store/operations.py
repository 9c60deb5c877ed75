"""Operations done from the dashboard, as the event log holds them (``operator_action``).

An operation is one event, with the user's identity: the dashboard appends it
(``EventLog.append``); a cancel request is such an event on the run, which the engine
supervising the run polls for (``cancel_requests``) and then cancels the run itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from runner.dashboard_access import Action
from runner.events import OperatorAction
from runner.store.store import Store


def cancel_requests(store: Store, floors: Mapping[int, int]) -> dict[int, str]:
    """Of the runs in ``floors`` (run id to an event id), those someone asked to cancel
    with an event after that id: run id to who asked."""
    if not floors:
        return {}
    names = {f"r{i}": run_id for i, run_id in enumerate(floors)}
    rows = store.db.rows(
        "SELECT id, run_id, payload FROM events WHERE type = :type AND id > :floor "
        f"AND run_id IN ({', '.join(':' + name for name in names)}) ORDER BY id",
        {"type": OperatorAction.type, "floor": min(floors.values()), **names},
    )
    asked: dict[int, str] = {}
    for row in rows:
        run_id = int(row["run_id"])
        payload = json.loads(row["payload"])
        if payload.get("action") == Action.CANCEL.value and int(row["id"]) > floors[run_id]:
            asked.setdefault(run_id, str(payload.get("user") or "someone"))
    return asked
