"""provider_accounts: merchants' accounts at real providers; attempts.routing: how each attempt was routed

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_accounts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=26), nullable=False),
        sa.Column("environment", sa.String(length=8), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("credentials_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=True),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_provider_accounts_app_id_apps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_accounts")),
    )
    op.create_index(op.f("ix_provider_accounts_app_id_environment"), "provider_accounts", ["app_id", "environment"])
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("routing", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("routing")
    op.drop_index(op.f("ix_provider_accounts_app_id_environment"), table_name="provider_accounts")
    op.drop_table("provider_accounts")
