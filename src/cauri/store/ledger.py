"""The ledger in the database: entries that sum to zero, and the running balances they add up to, written in
the caller's transaction. Spending (a refund or payout set aside) is a guarded update of the balance row, so
two concurrent spenders cannot both take the same money."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.apps import Scope
from cauri.domain.clock import utcnow
from cauri.domain.ledger import AVAILABLE, CUSTOMERS, PAID_OUT, REFUNDED, Balance, beyond_available
from cauri.domain.payments import Environment, new_sorted_id
from cauri.store.tables import balances, ledger_entries

#: The balance columns each spending account moves.
_SPENDING = {REFUNDED: balances.c.refunded, PAID_OUT: balances.c.paid_out}


class Ledger:
    """The ledger on one connection; ``sandbox_credit``: how far below zero a sandbox balance may go."""

    def __init__(self, conn: AsyncConnection, sandbox_credit: int = 0) -> None:
        self.conn = conn
        self.sandbox_credit = sandbox_credit

    async def collect(self, payment: Mapping[Any, Any]) -> None:
        """A payment succeeded: its amount moves from the customers to the available balance."""
        amount = payment["amount"]
        await self._ensure(payment)
        await self.conn.execute(
            update(balances)
            .where(*self._key(payment))
            .values(
                collected=balances.c.collected + amount,
                available=balances.c.available + amount,
                updated_at=utcnow(),
            )
        )
        await self._entries(payment, amount, CUSTOMERS, AVAILABLE, "payment.collected", payment["id"])

    async def spend(self, owner: Mapping[Any, Any], amount: int, account: str, subject_id: str) -> None:
        """Set ``amount`` aside from the available balance for a refund or payout (``account``): refused with 422
        on ``amount`` when the balance (plus the sandbox's credit) does not cover it."""
        credit = self.sandbox_credit if owner["environment"] == Environment.SANDBOX.value else 0
        key = self._key(owner)
        await self._ensure(owner)
        column = _SPENDING[account]
        moved = await self.conn.execute(
            update(balances)
            .where(*key, balances.c.available - amount >= -credit)
            .values(
                {
                    column: column + amount,
                    balances.c.available: balances.c.available - amount,
                    balances.c.updated_at: utcnow(),
                }
            )
        )
        if moved.rowcount != 1:
            available = (await self.conn.execute(select(balances.c.available).where(*key))).scalar_one()
            raise beyond_available(max(int(available) + credit, 0), owner["currency"])
        kind = ("refund" if account == REFUNDED else "payout") + ".reserved"
        await self._entries(owner, amount, AVAILABLE, account, kind, subject_id)

    async def release(self, owner: Mapping[Any, Any], amount: int, account: str, subject_id: str) -> None:
        """A refund or payout failed: what it set aside is available again."""
        column = _SPENDING[account]
        await self.conn.execute(
            update(balances)
            .where(*self._key(owner))
            .values(
                {
                    column: column - amount,
                    balances.c.available: balances.c.available + amount,
                    balances.c.updated_at: utcnow(),
                }
            )
        )
        kind = ("refund" if account == REFUNDED else "payout") + ".released"
        await self._entries(owner, amount, account, AVAILABLE, kind, subject_id)

    async def balances(self, scope: Scope) -> list[Balance]:
        query = (
            select(balances)
            .where(balances.c.app_id == scope.app_id, balances.c.environment == scope.environment)
            .order_by(balances.c.currency)
        )
        return [_balance(row) for row in (await self.conn.execute(query)).all()]

    def _key(self, owner: Mapping[Any, Any]) -> tuple[Any, ...]:
        c = balances.c
        return (c.app_id == owner["app_id"], c.environment == owner["environment"], c.currency == owner["currency"])

    async def _ensure(self, owner: Mapping[Any, Any]) -> None:
        """The balance row, created at zero if it is the currency's first movement."""
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        zero = {"collected": 0, "refunded": 0, "paid_out": 0, "available": 0, "updated_at": utcnow()}
        values = {"app_id": owner["app_id"], "environment": owner["environment"], "currency": owner["currency"],
                  **zero}  # fmt: skip
        await self.conn.execute(insert(balances).values(values).on_conflict_do_nothing())

    async def _entries(
        self, owner: Mapping[Any, Any], amount: int, source: str, target: str, kind: str, subject_id: str
    ) -> None:
        common = {"app_id": owner["app_id"], "environment": owner["environment"], "currency": owner["currency"],
                  "kind": kind, "subject_id": subject_id, "created_at": utcnow()}  # fmt: skip
        await self.conn.execute(
            ledger_entries.insert(),
            [
                {**common, "id": new_sorted_id("le_"), "account": source, "amount": -amount},
                {**common, "id": new_sorted_id("le_"), "account": target, "amount": amount},
            ],
        )


def _balance(row: Row[Any]) -> Balance:
    return {
        "currency": row.currency,
        "collected": int(row.collected),
        "refunded": int(row.refunded),
        "paid_out": int(row.paid_out),
        "available": int(row.available),
    }
