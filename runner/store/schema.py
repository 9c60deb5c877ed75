"""The store's tables, defined once with SQLAlchemy Core for Alembic and read-only tools.

Times are stored as UNIX epoch seconds (double precision): the same arithmetic works in
SQLite and PostgreSQL (durations are ``finished_at - started_at``), and there are no
time-zone conversions to get wrong. JSON columns are text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits for logs.
Id = BigInteger().with_variant(Integer(), "sqlite")
Time = Float(precision=53)

jobs = Table(
    "jobs",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(200)),
    Column("tags", Text, nullable=False, server_default="[]"),
    Column("schedule", String(200)),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("description", Text),
    Column("source", Text),
    Column("paused", Integer, nullable=False, server_default="0"),
    Column("updated_at", Time, nullable=False),
    # revision 0005: what the schedule promises (seconds), for missed and overdue runs
    Column("grace", Time),
    Column("expected_duration", Time),
    Column("timeout", Time),
    Column("created_at", Time),
    # revision 0009: the job's runbook, linked from every page about it
    Column("runbook", Text),
    # revision 0014: the upstream jobs and period of `schedule: {after: …}`, as JSON
    Column("upstream_jobs", Text),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job", String(200), nullable=False),
    Column("logical_time", Time, nullable=False),
    Column("trigger", String(20), nullable=False),
    Column("state", String(20), nullable=False),
    Column("params", Text, nullable=False, server_default="{}"),
    Column("queued_at", Time, nullable=False),
    Column("started_at", Time),
    Column("finished_at", Time),
    Column("reason", Text),
    Column("trace_id", String(32)),
    Column("supervisor", String(200)),
    UniqueConstraint("job", "logical_time", name="uq_runs_job_logical_time"),
)
Index("ix_runs_job_id", runs.c.job, runs.c.id)
Index("ix_runs_state", runs.c.state)
Index("ix_runs_queued_at", runs.c.queued_at)

task_runs = Table(
    "task_runs",
    metadata,
    Column("run_id", Id, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("task", String(200), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("updated_at", Time, nullable=False),
    # revision 0010: the task's upstream tasks (a JSON list) as defined for this run;
    # NULL for runs recorded before it
    Column("upstream", Text),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("job", String(200), nullable=False),
    Column("task", String(200), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("started_at", Time, nullable=False),
    Column("finished_at", Time),
    Column("exit_code", Integer),
    Column("signal", Integer),
    Column("reason", Text),
    Column("error", Text),
    Column("result", Text),
    Column("stdout_path", Text),
    Column("stderr_path", Text),
    Column("pool", String(200)),
    Column("pid", Integer),
    Column("pid_start", String(80)),
    Column("supervisor", String(200)),
    Column("span_id", String(16)),
    UniqueConstraint("run_id", "task", "number", name="uq_attempts_run_task_number"),
)
Index("ix_attempts_state", attempts.c.state)
Index("ix_attempts_job_task", attempts.c.job, attempts.c.task)
Index("ix_attempts_pool_state", attempts.c.pool, attempts.c.state)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Time, nullable=False),
    Column("type", String(40), nullable=False),
    Column("job", String(200), nullable=False),
    Column("run_id", Id),
    Column("task", String(200)),
    Column("attempt", Integer),
    Column("payload", Text, nullable=False, server_default="{}"),
)
Index("ix_events_job_id", events.c.job, events.c.id)
Index("ix_events_run_id", events.c.run_id)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("at", Time, nullable=False),
    Column("info", Text, nullable=False, server_default="{}"),
)

# -- alerting (revision 0003) ---------------------------------------------------------

consumer_cursors = Table(
    "consumer_cursors",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("event_id", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", Time, nullable=False),
)

alert_job_facts = Table(
    "alert_job_facts",
    metadata,
    Column("job", String(200), primary_key=True),
    Column("facts", Text, nullable=False, server_default="{}"),
    Column("updated_at", Time, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("alertname", String(200), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("job", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("labels", Text, nullable=False, server_default="{}"),
    Column("annotations", Text, nullable=False, server_default="{}"),
    Column("details", Text, nullable=False, server_default="{}"),
    Column("starts_at", Time, nullable=False),
    Column("ends_at", Time),
    Column("updated_at", Time, nullable=False),
    Column("flapping", Integer, nullable=False, server_default="0"),
    Column("firings", Text, nullable=False, server_default="[]"),
)
Index("ix_alerts_state", alerts.c.state)

alert_groups = Table(
    "alert_groups",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("route", String(100), nullable=False),
    Column("receiver", String(200), nullable=False),
    Column("labels", Text, nullable=False, server_default="{}"),
    Column("notified", Text, nullable=False, server_default="{}"),
    Column("episode", Integer, nullable=False, server_default="0"),
    Column("next_flush_at", Time),
    Column("last_flush_at", Time),
    Column("delivery_ref", Text),
    Column("updated_at", Time, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("receiver", String(200), nullable=False),
    Column("group_key", String(300), nullable=False),
    Column("status", String(20), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Time, nullable=False),
    Column("claimed_by", String(200)),
    Column("claim_expires_at", Time),
    Column("created_at", Time, nullable=False),
    Column("sent_at", Time),
    Column("last_error", Text),
    Column("fallback_of", Id),
)
Index("ix_notifications_status_next", notifications.c.status, notifications.c.next_attempt_at)
Index("ix_notifications_group_id", notifications.c.group_key, notifications.c.id)

silences = Table(
    "silences",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("matchers", Text, nullable=False),
    Column("starts_at", Time, nullable=False),
    Column("ends_at", Time, nullable=False),
    Column("author", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", Time, nullable=False),
)
Index("ix_silences_ends_at", silences.c.ends_at)

# -- dashboard (revision 0006) --------------------------------------------------------
# The overview seeks each job's latest finished and successful run, and reads run counts
# and durations over a window from a covering index instead of the table.
Index("ix_runs_job_state_id", runs.c.job, runs.c.state, runs.c.id)
Index("ix_runs_job_finished_at", runs.c.job, runs.c.finished_at, runs.c.state, runs.c.started_at)

# -- the dashboard's operations log (revision 0013) -----------------------------------
# Partial: only the operator_action events, by job, for the job's and alerts pages.
_OPERATOR_ACTION = text("type = 'operator_action'")
Index(
    "ix_events_operator_actions",
    events.c.job,
    events.c.id,
    sqlite_where=_OPERATOR_ACTION,
    postgresql_where=_OPERATOR_ACTION,
)

# -- attempts run by remote workers (revision 0007) -----------------------------------
# A worker claims an attempt by setting ``heartbeat_at`` and renews it while the attempt
# runs; ``stop_request`` is how the engine asks it to cancel or time out the attempt;
# ``outcome`` (JSON) is set exactly once, by whoever decides how the attempt ended.
attempts.append_column(Column("heartbeat_at", Time))
attempts.append_column(Column("stop_request", Text))
attempts.append_column(Column("outcome", Text))

# -- datasets (revision 0012) ---------------------------------------------------------

task_datasets = Table(
    "task_datasets",
    metadata,
    Column("job", String(200), primary_key=True),
    Column("task", String(200), primary_key=True),
    Column("direction", String(6), primary_key=True),  # 'input' or 'output'
    Column("namespace", String(400), primary_key=True),
    Column("name", String(800), primary_key=True),
)
"""The datasets each task of a job declares, as the job files (or wrap) last declared them."""
Index("ix_task_datasets_dataset", task_datasets.c.namespace, task_datasets.c.name)

dataset_updates = Table(
    "dataset_updates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("namespace", String(400), nullable=False),
    Column("name", String(800), nullable=False),
    Column("job", String(200), nullable=False),
    Column("run_id", Id, nullable=False),
    Column("task", String(200), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("updated_at", Time, nullable=False),
)
"""One row per output of each successful attempt (no foreign key: pruning old runs keeps
a dataset's last update)."""
Index(
    "ix_dataset_updates_dataset",
    dataset_updates.c.namespace,
    dataset_updates.c.name,
    dataset_updates.c.id,
)
