"""The migrations and the table definitions agree, and migrations can be undone and redone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from cauri.settings import Settings
from cauri.store.migrate import alembic_config
from tests.conftest import Database


def test_migrated_schema_matches_the_tables(migrated: Database, tmp_path: Path) -> None:
    # Raises if autogenerate would find anything to add, drop or alter.
    command.check(alembic_config(Settings(database_url=migrated.url, data_dir=tmp_path)))


def test_downgrade_and_upgrade_round_trip(tmp_path: Path) -> None:
    config = alembic_config(Settings(data_dir=tmp_path))
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    command.check(config)


def test_the_ledger_enters_an_existing_installs_history(tmp_path: Path) -> None:
    """Upgraded to the ledger, an install's balances are what its payments, refunds and payouts add up to."""
    settings = Settings(data_dir=tmp_path)
    config = alembic_config(settings)
    command.upgrade(config, "0007")
    stamp = "2026-01-01 10:00:00.000000"
    payment = ("app1", "sandbox", "XOF", "d", "", "a@example.com", "{}", "{}", 0, stamp, stamp, stamp)
    with sqlite3.connect(tmp_path / "cauri.db") as db:
        db.execute("INSERT INTO apps (id, name, is_enabled, rate_limit, expiry_minutes, created_at, updated_at) "
                   "VALUES ('app1', 'Shop', 1, 0, 10, ?, ?)", (stamp, stamp))  # fmt: skip
        for payment_id, status, amount in (("py_paid", "success", 1000), ("py_open", "pending", 50)):
            db.execute("INSERT INTO payments (id, status, amount, app_id, environment, currency, description, "
                       "return_url, customer_email, customer, metadata, is_processed, initiated_at, created_at, "
                       "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (payment_id, status, amount, *payment))  # fmt: skip
        for refund_id, status, amount in (
            ("rf_ok", "success", 100),
            ("rf_no", "failed", 200),
            ("rf_wait", "pending", 50),
        ):
            db.execute("INSERT INTO refunds (id, payment_id, app_id, environment, status, amount, currency, "
                       "connector, attempt_id, created_at, updated_at) VALUES (?, 'py_paid', 'app1', 'sandbox', ?, "
                       "?, 'XOF', 'sandbox', 'att_x', ?, ?)", (refund_id, status, amount, stamp, stamp))  # fmt: skip
        for payout_id, status, amount in (("po_ok", "success", 300), ("po_no", "failed", 400)):
            db.execute("INSERT INTO payouts (id, app_id, environment, status, amount, currency, description, method, "
                       "recipient, customer_email, customer, metadata, connector, initiated_at, created_at, "
                       "updated_at) VALUES (?, 'app1', 'sandbox', ?, ?, 'XOF', 'd', 'mtn_bj', '{}', 'a@example.com', "
                       "'{}', '{}', 'sandbox', ?, ?, ?)", (payout_id, status, amount, stamp, stamp, stamp))  # fmt: skip
    command.upgrade(config, "head")
    with sqlite3.connect(tmp_path / "cauri.db") as db:
        balances = db.execute("SELECT currency, collected, refunded, paid_out, available FROM balances").fetchall()
        total = db.execute("SELECT SUM(amount) FROM ledger_entries").fetchone()[0]
        subjects = {row[0] for row in db.execute("SELECT subject_id FROM ledger_entries")}
    assert balances == [("XOF", 1000, 150, 300, 550)]
    assert total == 0 and subjects == {"py_paid", "rf_ok", "rf_wait", "po_ok"}
