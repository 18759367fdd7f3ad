"""converted attempts: the rate, margin and amount debited locked on an attempt; each app's correction margin

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("rate_margin", sa.String(length=16), nullable=False, server_default="0"))
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("rate", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("correction_rate", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("amount_debited", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("currency_debited", sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("currency_debited")
        batch.drop_column("amount_debited")
        batch.drop_column("correction_rate")
        batch.drop_column("rate")
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("rate_margin")
