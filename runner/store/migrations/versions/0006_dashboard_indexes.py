"""Dashboard indexes: each job's latest run by state, and run durations by finish time.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_job_state_id", "runs", ["job", "state", "id"])
    op.create_index(
        "ix_runs_job_finished_at", "runs", ["job", "finished_at", "state", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_runs_job_finished_at", table_name="runs")
    op.drop_index("ix_runs_job_state_id", table_name="runs")
