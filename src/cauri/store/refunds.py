"""Refunds in the database: created under a lock on their payment, so that refunds together never exceed the
amount paid; each later move is a compare-and-set on the status, queued with the event it emits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.attempts import AttemptStatus
from cauri.domain.clock import utcnow
from cauri.domain.ledger import REFUNDED
from cauri.domain.payments import new_sorted_id
from cauri.domain.refunds import REFUND_EVENT_FOR_STATUS, RefundStatus, refund_sources_of
from cauri.store.ledger import Ledger
from cauri.store.tables import attempts, refunds

_OPEN = (RefundStatus.INITIATED.value, RefundStatus.PENDING.value)


def new_refund_row(payment: Any, attempt: Any, amount: int, reason: str | None, now: datetime) -> dict[str, Any]:
    return {
        "id": new_sorted_id("rf_"),
        "payment_id": payment.id,
        "app_id": payment.app_id,
        "environment": payment.environment,
        "status": RefundStatus.INITIATED.value,
        "amount": amount,
        "currency": payment.currency,
        "reason": reason,
        "connector": attempt.connector,
        "attempt_id": attempt.id,
        "provider_reference": None,
        "failure_code": None,
        "failure_message": None,
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
        "locked_until": None,
    }


class RefundRepository:
    """Refunds on one connection; an ending move queues the payment's event (``payment.refunded`` or
    ``refund.failed``), whose body is the payment with its refunds."""

    def __init__(self, conn: AsyncConnection, emit: Callable[[str, str], None], ledger: Ledger | None = None) -> None:
        self.conn = conn
        self._emit = emit
        self._ledger = ledger or Ledger(conn)

    async def add(self, row: dict[str, Any]) -> None:
        """The caller holds the payment's lock and has checked ``row``'s amount against ``of_payment``; the
        amount is set aside from the available balance (422 on ``amount`` beyond it)."""
        await self.conn.execute(refunds.insert(), row)
        await self._ledger.spend(row, row["amount"], REFUNDED, row["id"])

    async def of_payment(self, payment_id: str) -> list[Row[Any]]:
        query = select(refunds).where(refunds.c.payment_id == payment_id).order_by(refunds.c.created_at, refunds.c.id)
        return list((await self.conn.execute(query)).all())

    async def of_payments(self, payment_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
        """Each payment's refunds, oldest first (one query)."""
        found: dict[str, list[Row[Any]]] = {}
        if not payment_ids:
            return found
        query = (
            select(refunds).where(refunds.c.payment_id.in_(payment_ids)).order_by(refunds.c.created_at, refunds.c.id)
        )
        for row in (await self.conn.execute(query)).all():
            found.setdefault(row.payment_id, []).append(row)
        return found

    async def paid_by(self, payment_id: str) -> Row[Any] | None:
        """The attempt that paid the payment: the refund goes back through its connector."""
        query = select(attempts).where(
            attempts.c.payment_id == payment_id, attempts.c.status == AttemptStatus.SUCCESS.value
        )
        return (await self.conn.execute(query.limit(1))).one_or_none()

    async def attempt(self, attempt_id: str) -> Row[Any] | None:
        return (await self.conn.execute(select(attempts).where(attempts.c.id == attempt_id))).one_or_none()

    async def find(self, refund_id: str) -> Row[Any] | None:
        return (await self.conn.execute(select(refunds).where(refunds.c.id == refund_id))).one_or_none()

    async def move(
        self,
        refund_id: str,
        target: RefundStatus,
        *,
        connector: str | None = None,
        failure_code: str | None = None,
        failure_message: str | None = None,
    ) -> Row[Any] | None:
        """Move a refund to ``target`` as a compare-and-set on its status (and, when given, on the connector
        that carries it); None when it was not in a status ``target`` can be reached from. A failed refund's
        amount is no longer set aside: what is left to refund counts refunds not failed."""
        now = utcnow()
        values: dict[str, Any] = {"status": target.value, "updated_at": now, "locked_until": None}
        if target in REFUND_EVENT_FOR_STATUS:
            values["completed_at"] = now
        if target is RefundStatus.FAILED:
            values["failure_code"] = failure_code
            values["failure_message"] = failure_message
        guard = [refunds.c.id == refund_id, refunds.c.status.in_([s.value for s in refund_sources_of(target)])]
        if connector is not None:
            guard.append(refunds.c.connector == connector)
        row = (
            await self.conn.execute(update(refunds).where(*guard).values(**values).returning(*refunds.c))
        ).one_or_none()
        if row is not None and target is RefundStatus.FAILED:
            await self._ledger.release(row._mapping, row.amount, REFUNDED, refund_id)
        if row is not None and target in REFUND_EVENT_FOR_STATUS:
            self._emit(REFUND_EVENT_FOR_STATUS[target], row.payment_id)
        return row

    async def record_reference(self, refund_id: str, reference: str) -> None:
        await self.conn.execute(
            update(refunds).where(refunds.c.id == refund_id).values(provider_reference=reference, updated_at=utcnow())
        )

    async def claim_stale(self, older_than: datetime, lease_until: datetime, limit: int) -> list[Row[Any]]:
        """Take up to ``limit`` refunds still open since before ``older_than`` and not leased by another worker,
        until ``lease_until``."""
        now = utcnow()
        c = refunds.c
        due = (
            select(c.id)
            .where(c.status.in_(_OPEN), c.updated_at < older_than, or_(c.locked_until.is_(None), c.locked_until < now))
            .order_by(c.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = await self.conn.execute(
            update(refunds).where(c.id.in_(due.scalar_subquery())).values(locked_until=lease_until).returning(*c)
        )
        return list(claimed.all())
