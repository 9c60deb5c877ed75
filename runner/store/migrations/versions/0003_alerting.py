"""Alerting: consumer cursors, job facts, alerts, alert groups, the notification outbox
and silences.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "consumer_cursors",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", Time, nullable=False),
    )
    op.create_table(
        "alert_job_facts",
        sa.Column("job", sa.String(200), primary_key=True),
        sa.Column("facts", sa.Text, nullable=False, server_default="{}"),
        sa.Column("updated_at", Time, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.String(32), primary_key=True),
        sa.Column("alertname", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("labels", sa.Text, nullable=False, server_default="{}"),
        sa.Column("annotations", sa.Text, nullable=False, server_default="{}"),
        sa.Column("details", sa.Text, nullable=False, server_default="{}"),
        sa.Column("starts_at", Time, nullable=False),
        sa.Column("ends_at", Time),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("flapping", sa.Integer, nullable=False, server_default="0"),
        sa.Column("firings", sa.Text, nullable=False, server_default="[]"),
    )
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.create_table(
        "alert_groups",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("route", sa.String(100), nullable=False),
        sa.Column("receiver", sa.String(200), nullable=False),
        sa.Column("labels", sa.Text, nullable=False, server_default="{}"),
        sa.Column("notified", sa.Text, nullable=False, server_default="{}"),
        sa.Column("episode", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_flush_at", Time),
        sa.Column("last_flush_at", Time),
        sa.Column("delivery_ref", sa.Text),
        sa.Column("updated_at", Time, nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("receiver", sa.String(200), nullable=False),
        sa.Column("group_key", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", Time, nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("claim_expires_at", Time),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("sent_at", Time),
        sa.Column("last_error", sa.Text),
        sa.Column("fallback_of", Id),
    )
    op.create_index("ix_notifications_status_next", "notifications", ["status", "next_attempt_at"])
    op.create_index("ix_notifications_group_id", "notifications", ["group_key", "id"])
    op.create_table(
        "silences",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("matchers", sa.Text, nullable=False),
        sa.Column("starts_at", Time, nullable=False),
        sa.Column("ends_at", Time, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", Time, nullable=False),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])


def downgrade() -> None:
    for table in (
        "silences",
        "notifications",
        "alert_groups",
        "alerts",
        "alert_job_facts",
        "consumer_cursors",
    ):
        op.drop_table(table)
