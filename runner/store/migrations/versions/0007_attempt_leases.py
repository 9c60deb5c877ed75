"""Attempts run by remote workers: their heartbeat, a stop request and the decided outcome.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.Float(precision=53)))
        batch.add_column(sa.Column("stop_request", sa.Text))
        batch.add_column(sa.Column("outcome", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("outcome")
        batch.drop_column("stop_request")
        batch.drop_column("heartbeat_at")
