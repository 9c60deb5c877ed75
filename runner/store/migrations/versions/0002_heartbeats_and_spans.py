"""Heartbeats of long-running processes, and the span id of each attempt.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("at", sa.Float(precision=53), nullable=False),
        sa.Column("info", sa.Text, nullable=False, server_default="{}"),
    )
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("span_id", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("span_id")
    op.drop_table("heartbeats")
