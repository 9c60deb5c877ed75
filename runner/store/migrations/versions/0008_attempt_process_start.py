"""The start of an attempt's process, so recovery signals a pid only while it is still that
process.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("pid_start", sa.String(80)))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("pid_start")
