"""`runwatch datasets`: each dataset, the tasks producing it, its last update, staleness."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runner.cli.commands.listing import defined_jobs
from runner.cli.context import Context
from runner.cli.output import emit_json, short_time, table
from runner.durations import format_duration, parse_duration
from runner.errors import UsageError
from runner.store.datasets import DatasetState, dataset_states


def command(ctx: Context) -> int:
    """List the datasets the job files and wrapped jobs declare or attempts updated."""
    from runner.clock import utcnow

    try:
        stale_after = parse_duration(ctx.args.stale_after)
    except ValueError as exc:
        raise UsageError(f"--stale-after: {exc}") from None
    store = ctx.open_store()
    now = utcnow()
    store.sync_jobs(defined_jobs(ctx).values(), now)
    records = [_record(state, now, stale_after) for state in dataset_states(store)]
    if ctx.args.format == "json":
        emit_json(records)
        return 0
    table(
        ["dataset", "producer", "last update", "age", "stale", "by run"],
        [
            [
                r["uri"],
                ", ".join(r["producers"]) or "-",
                short_time(r["last_update_at"]),
                "-" if r["age_seconds"] is None else format_duration(r["age_seconds"]),
                "yes" if r["stale"] else "",
                r["last_update_run_id"] or "-",
            ]
            for r in records
        ],
    )
    return 0


def _record(state: DatasetState, now: datetime, stale_after: float) -> dict[str, Any]:
    """A dataset as the listing shows it; one never updated is stale only if a task produces
    it (an input from outside runwatch has no updates to go by)."""
    update = state.last_update
    age = None if update is None else max(0.0, (now - update.at).total_seconds())
    return {
        "uri": state.dataset.uri,
        "namespace": state.dataset.namespace,
        "name": state.dataset.name,
        "producers": list(state.producers),
        "consumers": list(state.consumers),
        "owners": list(state.owners),
        "last_update_at": None if update is None else update.at,
        "last_update_run_id": None if update is None else update.run_id,
        "last_update_by": None if update is None else f"{update.job}/{update.task}",
        "age_seconds": age,
        "stale": (age is None and bool(state.producers)) or (age is not None and age > stale_after),
    }
