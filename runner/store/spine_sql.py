"""The spine's statements for wrap's lean path, and how the store writes JSON columns.

The spine is the ``jobs``, ``runs``, ``task_runs``, ``attempts`` and ``events`` rows
of a run. ``Store`` writes them for the engine; ``runner.wrap.recorder`` writes the same
rows for a wrapped run through ``runner.store.lean_connection``, with the statements
here, because importing the store costs ~60 ms and a wrapped ``true`` may add 80 ms in
all. This module imports nothing but ``json``; statements both writers need are shared
(``INSERT_TASK_RUN``, ``INSERT_EVENT``), and tests/runner/wrap/test_recorder.py checks
that both writers' rows agree column by column.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

EVENT_COLUMNS = "(at, type, job, run_id, task, attempt, payload)"
"""The columns of an event row, in the order both writers give their values."""


def to_json(value: object) -> str:
    """Compact, stable JSON for the store's text columns (payloads compare byte for byte)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


# -- writes of a wrapped run (runner.wrap.recorder) ---------------------------------------

INSERT_EVENT = (
    f"INSERT INTO events {EVENT_COLUMNS} "
    "VALUES (:at, :type, :job, :run_id, :task, :attempt, :payload)"
)
INSERT_TASK_RUN = (
    "INSERT INTO task_runs (run_id, task, state, attempts, updated_at, upstream) "
    "VALUES (:run_id, :task, 'pending', 0, :at, :upstream)"
)
"""A pending task row; ``upstream`` is the run's graph: the task's upstream tasks, JSON."""
NO_UPSTREAM = "[]"
"""``upstream`` of a task that depends on nothing (a wrapped job's one task)."""


def upstream_columns(after: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The ``upstream`` column of each task of ``after`` (task -> its upstream tasks)."""
    return {task: to_json(list(upstream)) for task, upstream in after.items()}


SET_ATTEMPT_PROCESS = (
    "UPDATE attempts SET pid = :pid, pid_start = :start WHERE run_id = :run_id "
    "AND task = :task AND number = :number"
)
SET_RUN_TRACE = "UPDATE runs SET trace_id = COALESCE(trace_id, :trace) WHERE id = :id"
REGISTER_WRAPPED_JOB = (
    "INSERT INTO jobs (name, owner, tags, schedule, timezone, description, source, "
    "paused, updated_at, grace, expected_duration, timeout, created_at) VALUES "
    "(:name, :owner, :tags, :schedule, :timezone, NULL, 'wrap', 0, :at, :grace, "
    ":expected_duration, :timeout, :at) ON CONFLICT (name) DO UPDATE SET "
    "owner = excluded.owner, tags = excluded.tags, schedule = excluded.schedule, "
    "timezone = excluded.timezone, source = excluded.source, "
    "updated_at = excluded.updated_at, grace = excluded.grace, "
    "expected_duration = excluded.expected_duration, timeout = excluded.timeout "
    "WHERE jobs.updated_at <= excluded.updated_at"
)
SKIP_SEEN = "SELECT 1 FROM events WHERE job = :job AND type = 'run_skipped' AND at = :at"
RUN_OF_LOGICAL_TIME = "SELECT id, state FROM runs WHERE job = :job AND logical_time = :lt"
INSERT_WRAPPED_RUN = (
    "INSERT INTO runs (job, logical_time, trigger, state, params, queued_at, started_at, "
    "supervisor, trace_id) VALUES (:job, :lt, :trigger, 'running', '{}', :at, :at, :sup, "
    ":trace) RETURNING id"
)
ATTEMPT_STATE = (
    "SELECT id, state FROM attempts WHERE run_id = :run_id AND task = :task AND number = :number"
)
TASK_RUN_STARTED = (
    "UPDATE task_runs SET state = 'running', updated_at = :at, "
    "attempts = CASE WHEN attempts < :number THEN :number ELSE attempts END "
    "WHERE run_id = :run_id AND task = :task"
)
INSERT_WRAPPED_ATTEMPT = (
    "INSERT INTO attempts (run_id, job, task, number, state, started_at, pool, "
    "supervisor, pid, pid_start, stdout_path, stderr_path) VALUES (:run_id, :job, "
    ":task, :number, 'running', :at, NULL, :sup, :pid, :start, :out, :err)"
)
FINISH_ATTEMPT = (
    "UPDATE attempts SET state = :state, finished_at = :at, exit_code = :code, "
    "signal = :sig, error = :error, reason = :reason, pid = COALESCE(:pid, pid), "
    "stdout_path = COALESCE(stdout_path, :out), stderr_path = COALESCE(stderr_path, :err) "
    "WHERE run_id = :run_id AND task = :task AND number = :number AND state = 'running' "
    "RETURNING started_at"
)
TASK_RUN_ENDED = (
    "UPDATE task_runs SET state = :state, updated_at = :at WHERE run_id = :run_id AND task = :task"
)
FINISH_RUN = (
    "UPDATE runs SET state = :state, finished_at = :at, reason = :reason "
    "WHERE id = :id AND state IN ('queued', 'running') RETURNING started_at"
)
CANCEL_WAITING_TASKS = (
    "UPDATE task_runs SET state = 'cancelled', updated_at = :at "
    "WHERE run_id = :id AND state IN ('pending', 'retrying')"
)

# -- reads of wrap and of the ping API ----------------------------------------------------

STORED_JOB = (
    "SELECT name, schedule, timezone, grace, expected_duration, timeout, owner, tags, "
    "source FROM jobs WHERE name = :name"
)
WRAPPED_JOB_COUNT = "SELECT COUNT(*) FROM jobs WHERE source = 'wrap'"
SCHEMA_REVISION = "SELECT version_num FROM alembic_version"
FIRING_ALERT_OF_JOB = "SELECT 1 FROM alerts WHERE job = :job AND state = 'firing' LIMIT 1"
FAILURE_PAST_CURSOR = (
    "SELECT 1 FROM events WHERE type = 'run_failed' AND id > COALESCE("
    "(SELECT event_id FROM consumer_cursors WHERE name = :cursor), 0) LIMIT 1"
)
SERVE_HEARTBEAT = (
    "SELECT MAX(at) FROM heartbeats WHERE name LIKE :pattern AND info NOT LIKE :stopped"
)
"""The newest heartbeat of a running (not stopped) `runwatch serve`: ``pattern`` and
``stopped`` are runner.scheduler_liveness's heartbeat name pattern and stopped state."""
RUN_STARTED_AT = (
    "SELECT id, logical_time, started_at FROM runs WHERE job = :job "
    "AND logical_time = :lt AND state IN ('queued', 'running')"
)
NEWEST_WRAPPED_RUN = (
    "SELECT id, logical_time, started_at FROM runs WHERE job = :job "
    "AND trigger = 'wrap' AND state = 'running' ORDER BY id DESC LIMIT 1"
)
RUNNING_ATTEMPTS = (
    "SELECT number, started_at FROM attempts WHERE run_id = :id AND state = 'running' "
    "ORDER BY number"
)

# -- datasets (revision 0012): both writers declare them and record updates alike -----------

FORGET_DECLARED_DATASETS = "DELETE FROM task_datasets WHERE job = :job"
DECLARE_DATASET = (
    "INSERT INTO task_datasets (job, task, direction, namespace, name) "
    "VALUES (:job, :task, :direction, :namespace, :name) ON CONFLICT DO NOTHING"
)
RECORD_DATASET_UPDATES = (
    "INSERT INTO dataset_updates (namespace, name, job, run_id, task, attempt, updated_at) "
    "SELECT namespace, name, job, :run_id, task, :attempt, :at FROM task_datasets "
    "WHERE job = :job AND task = :task AND direction = 'output' RETURNING namespace, name"
)
"""An update of each output the task declares, by one successful attempt; the datasets
updated come back, for their ``dataset_updated`` events."""
