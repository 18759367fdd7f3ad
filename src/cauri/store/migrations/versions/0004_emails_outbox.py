"""emails outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 14:20:21.304699
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "emails",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_emails_event_id_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emails")),
    )
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emails_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_emails_status_next_attempt_at"), ["status", "next_attempt_at"], unique=False
        )

    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("send_receipts", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("send_notices", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("notify_failures", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("notify_failures")
        batch_op.drop_column("send_notices")
        batch_op.drop_column("send_receipts")
        batch_op.drop_column("notify_email")

    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emails_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_emails_event_id"))

    op.drop_table("emails")
