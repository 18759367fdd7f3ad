"""dashboard: users, their apps, sessions, login failures, the audit log; the payments list's status index

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
PG_METADATA = "ix_payments_metadata_gin"
SQLITE_ORDER_ID = "ix_payments_app_id_environment_order_id"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("totp_secret_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "user_apps",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_apps_user_id_users")),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_user_apps_app_id_apps")),
        sa.PrimaryKeyConstraint("user_id", "app_id", name=op.f("pk_user_apps")),
    )
    op.create_table(
        "dashboard_sessions",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_dashboard_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_dashboard_sessions")),
    )
    op.create_index(op.f("ix_dashboard_sessions_user_id"), "dashboard_sessions", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("failed_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_subject_failed_at"), "login_failures", ["subject", "failed_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=26), nullable=True),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_created_at_id"), "audit_log", ["created_at", "id"])
    op.create_index(op.f("ix_audit_log_app_id_created_at"), "audit_log", ["app_id", "created_at"])
    op.create_index(
        "ix_payments_app_id_environment_status_created_at",
        "payments",
        ["app_id", "environment", "status", "created_at", "id"],
    )
    # Metadata searches: on PostgreSQL a GIN index answers "metadata contains key=value" for any key; SQLite has
    # none, so its index covers the key merchants search by far most (the order id), in the query's own words.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {PG_METADATA} ON payments USING gin ((metadata::jsonb) jsonb_path_ops)")
    else:
        op.execute(f"CREATE INDEX {SQLITE_ORDER_ID} ON payments "
                   "(app_id, environment, json_extract(metadata, '$.\"order_id\"'), created_at, id)")  # fmt: skip


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {PG_METADATA}")
    op.execute(f"DROP INDEX IF EXISTS {SQLITE_ORDER_ID}")
    op.drop_index("ix_payments_app_id_environment_status_created_at", table_name="payments")
    op.drop_table("audit_log")
    op.drop_table("login_failures")
    op.drop_table("dashboard_sessions")
    op.drop_table("user_apps")
    op.drop_table("users")
