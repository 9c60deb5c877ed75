"""The dashboard's operations log: a partial index on the ``operator_action`` events by
job, so a job's page finds its few operations without reading the job's whole history.

Partial (``WHERE type = 'operator_action'``) on both SQLite and PostgreSQL: the events
the engine and wrap write never enter it.

Revision ID: 0013
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None

_WHERE = sa.text("type = 'operator_action'")


def upgrade() -> None:
    op.create_index(
        "ix_events_operator_actions",
        "events",
        ["job", "id"],
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_events_operator_actions", table_name="events")
