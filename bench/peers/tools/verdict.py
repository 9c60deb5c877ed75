"""The one line every workload script's check prints: what the tool's store holds."""

from __future__ import annotations

import json


def expected_tasks(workload: str, width: int) -> int:
    """Tasks in one run of the workload: W0 one, W1 width + 2, W2 width."""
    return {"w0": 1, "w1": width + 2}.get(workload, width)


def report(
    workload: str,
    width: int,
    *,
    runs: int,
    found_runs: int,
    state: str | None,
    success: str,
    tasks: int,
    **extra: object,
) -> None:
    """Print the JSON verdict: ok when the store has ``runs`` runs, the latest in state
    ``success`` with a successful record of every task."""
    want = expected_tasks(workload, width)
    ok = found_runs == runs and state == success and tasks == want
    found = {"runs": found_runs, "state": state, "tasks": tasks, **extra, "want": want}
    print(json.dumps({"ok": ok, **found}))
