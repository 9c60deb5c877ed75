"""Each run's task graph, recorded when the run is created: a task's upstream tasks as
the job defined them for that run, so a run keeps its own DAG after the job changes.

NULL for runs recorded before this revision: their dependencies are unknown.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("upstream", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("upstream")
