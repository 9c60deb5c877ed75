"""Datasets: what each task declares it reads and writes, and each update of an output
by a successful attempt.

Revision ID: 0012
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0014"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "task_datasets",
        sa.Column("job", sa.String(200), primary_key=True),
        sa.Column("task", sa.String(200), primary_key=True),
        sa.Column("direction", sa.String(6), primary_key=True),
        sa.Column("namespace", sa.String(400), primary_key=True),
        sa.Column("name", sa.String(800), primary_key=True),
    )
    op.create_index("ix_task_datasets_dataset", "task_datasets", ["namespace", "name"])
    op.create_table(
        "dataset_updates",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(400), nullable=False),
        sa.Column("name", sa.String(800), nullable=False),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("run_id", _Id, nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
    )
    op.create_index(
        "ix_dataset_updates_dataset", "dataset_updates", ["namespace", "name", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_dataset_updates_dataset", "dataset_updates")
    op.drop_table("dataset_updates")
    op.drop_index("ix_task_datasets_dataset", "task_datasets")
    op.drop_table("task_datasets")
