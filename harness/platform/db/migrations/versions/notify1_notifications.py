"""notifications: endpoints, settings, deliveries, attempts

Revision ID: notify1
Revises: 0001
Create Date: 2026-12-02 14:10:22.511151
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "notify1"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "notify_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("smtp_host", sa.String(length=200), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_security", sa.String(length=16), nullable=False),
        sa.Column("smtp_user", sa.String(length=200), nullable=False),
        sa.Column("smtp_password_sealed", sa.Text(), nullable=False),
        sa.Column("mail_from", sa.String(length=200), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("backoff_s", sa.Float(), nullable=False),
        sa.Column("backoff_cap_s", sa.Float(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "notify_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target_shown", sa.String(length=400), nullable=False),
        sa.Column("url_sealed", sa.Text(), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notify_endpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_endpoints_org_id"), ["org_id"], unique=False)

    op.create_table(
        "notify_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("before", sa.String(length=32), nullable=False),
        sa.Column("after", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["notify_endpoints.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notify_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_notify_deliveries_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_notify_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notify_deliveries_endpoint_id"), ["endpoint_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notify_deliveries_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "notify_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["notify_deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notify_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_notify_attempts_delivery", ["delivery_id", "number"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("notify_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_attempts_delivery")

    op.drop_table("notify_attempts")
    with op.batch_alter_table("notify_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_deliveries_submission_id"))
        batch_op.drop_index(batch_op.f("ix_notify_deliveries_endpoint_id"))
        batch_op.drop_index("ix_notify_deliveries_due")
        batch_op.drop_index("ix_notify_deliveries_created")

    op.drop_table("notify_deliveries")
    with op.batch_alter_table("notify_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_endpoints_org_id"))

    op.drop_table("notify_endpoints")
    op.drop_table("notify_settings")
