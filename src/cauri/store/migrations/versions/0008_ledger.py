"""ledger: double-entry rows and running balances per app, environment and currency

An existing install's history is entered as it would have been: each successful payment collected, each
refund and payout not failed set aside, then the balances summed from those entries.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=26), nullable=False),
        sa.Column("environment", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_ledger_entries_app_id_apps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_app_id_environment_currency"),
            ["app_id", "environment", "currency"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_ledger_entries_subject_id"), ["subject_id"], unique=False)
    op.create_table(
        "balances",
        sa.Column("app_id", sa.String(length=26), nullable=False),
        sa.Column("environment", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("collected", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("paid_out", sa.BigInteger(), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_balances_app_id_apps")),
        sa.PrimaryKeyConstraint("app_id", "environment", "currency", name=op.f("pk_balances")),
    )
    _backfill()


#: (table, condition, source account, target account, kind): what earlier changes would have written.
_HISTORY = (
    ("payments", "status = 'success'", "customers", "available", "payment.collected"),
    ("refunds", "status <> 'failed'", "available", "refunded", "refund.reserved"),
    ("payouts", "status <> 'failed'", "available", "paid_out", "payout.reserved"),
)


def _backfill() -> None:
    for table, condition, source, target, kind in _HISTORY:
        for prefix, account, sign in (("ls_", source, "-"), ("lt_", target, "")):
            op.execute(
                f"INSERT INTO ledger_entries (id, app_id, environment, currency, account, amount, kind, subject_id, "  # noqa: S608 - constants
                f"created_at) SELECT '{prefix}' || id, app_id, environment, currency, '{account}', {sign}amount, "
                f"'{kind}', id, updated_at FROM {table} WHERE {condition}"
            )
    op.execute(
        "INSERT INTO balances (app_id, environment, currency, collected, refunded, paid_out, available, updated_at) "
        "SELECT app_id, environment, currency, "
        "-SUM(CASE WHEN account = 'customers' THEN amount ELSE 0 END), "
        "SUM(CASE WHEN account = 'refunded' THEN amount ELSE 0 END), "
        "SUM(CASE WHEN account = 'paid_out' THEN amount ELSE 0 END), "
        "SUM(CASE WHEN account = 'available' THEN amount ELSE 0 END), MAX(created_at) "
        "FROM ledger_entries GROUP BY app_id, environment, currency"
    )


def downgrade() -> None:
    op.drop_table("balances")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_subject_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_app_id_environment_currency"))
    op.drop_table("ledger_entries")
