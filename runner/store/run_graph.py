"""Each run's own task graph: the upstream tasks of every task as the job defined them
when the run was created (``task_runs.upstream``, revision 0010).

The writers (``Store.create_run`` and ``Store.add_task_rows`` through
``spine_sql.upstream_columns``, wrap's recorder) store it with the task rows; the
dashboard reads it here (with SQLAlchemy, which the writers do not import), so a run
of an older version of a job, a wrapped job or a run made on another host is drawn
with its own edges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import Connection, select

from runner.store.schema import task_runs

Graph = Mapping[str, tuple[str, ...]]
"""Each task of a run and its upstream tasks."""


def run_graph(conn: Connection, run_id: int) -> Graph | None:
    """The run's tasks and their upstream tasks; None when the run was recorded before
    the store kept graphs (its dependencies are unknown)."""
    rows = conn.execute(
        select(task_runs.c.task, task_runs.c.upstream)
        .where(task_runs.c.run_id == run_id)
        .order_by(task_runs.c.task)
    ).all()
    if not rows or any(row.upstream is None for row in rows):
        return None
    return {row.task: tuple(str(u) for u in json.loads(row.upstream)) for row in rows}
