"""Core tables: jobs, runs, task_runs, attempts and the events log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(200)),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("schedule", sa.String(200)),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("description", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("paused", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", Time, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("logical_time", Time, nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("params", sa.Text, nullable=False, server_default="{}"),
        sa.Column("queued_at", Time, nullable=False),
        sa.Column("started_at", Time),
        sa.Column("finished_at", Time),
        sa.Column("reason", sa.Text),
        sa.Column("trace_id", sa.String(32)),
        sa.Column("supervisor", sa.String(200)),
        sa.UniqueConstraint("job", "logical_time", name="uq_runs_job_logical_time"),
    )
    op.create_index("ix_runs_job_id", "runs", ["job", "id"])
    op.create_index("ix_runs_state", "runs", ["state"])
    op.create_index("ix_runs_queued_at", "runs", ["queued_at"])
    op.create_table(
        "task_runs",
        sa.Column(
            "run_id", Id, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("task", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", Time, nullable=False),
    )
    op.create_table(
        "attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", Id, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("finished_at", Time),
        sa.Column("exit_code", sa.Integer),
        sa.Column("signal", sa.Integer),
        sa.Column("reason", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("stdout_path", sa.Text),
        sa.Column("stderr_path", sa.Text),
        sa.Column("pool", sa.String(200)),
        sa.Column("pid", sa.Integer),
        sa.Column("supervisor", sa.String(200)),
        sa.UniqueConstraint("run_id", "task", "number", name="uq_attempts_run_task_number"),
    )
    op.create_index("ix_attempts_state", "attempts", ["state"])
    op.create_index("ix_attempts_job_task", "attempts", ["job", "task"])
    op.create_index("ix_attempts_pool_state", "attempts", ["pool", "state"])
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", Time, nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("run_id", Id),
        sa.Column("task", sa.String(200)),
        sa.Column("attempt", sa.Integer),
        sa.Column("payload", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_events_job_id", "events", ["job", "id"])
    op.create_index("ix_events_run_id", "events", ["run_id"])


def downgrade() -> None:
    for table in ("events", "attempts", "task_runs", "runs", "jobs"):
        op.drop_table(table)
