"""What a job's schedule promises, for missed and overdue runs: ``grace``,
``expected_duration``, ``timeout`` (seconds) and ``created_at`` (when the store first
knew the job, so a new job is not reported missed for fire times before it existed).

Revision ID: 0005
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

Time = sa.Float(precision=53)
_COLUMNS = ("grace", "expected_duration", "timeout", "created_at")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, Time))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
