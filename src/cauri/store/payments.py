"""Payments in the database: each write commits with the event it emits, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, String, and_, cast, func, literal, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.apps import Scope
from cauri.domain.clock import utcnow
from cauri.domain.errors import NotFound
from cauri.domain.payment_request import PaymentRequest
from cauri.domain.payments import (
    EVENT_FOR_STATUS,
    PaymentFilter,
    PaymentStatus,
    TransitionRefused,
    check_processable,
    check_transition,
    new_id,
    new_sorted_id,
    sources_of,
)
from cauri.store.ledger import Ledger
from cauri.store.outbox import insert_event
from cauri.store.tables import UTCDateTime, apps, payments

NOT_FOUND = "Payment transaction not found."


def new_payment_row(request: PaymentRequest, scope: Scope, now: datetime) -> dict[str, Any]:
    """The row ``insert_payment`` writes, built before the transaction so the response can be too."""
    c = request.customer
    phone = request.restricted_phone
    return {
        "id": new_sorted_id("py_"),
        "app_id": scope.app_id,
        "environment": scope.environment,
        "status": PaymentStatus.INITIATED.value,
        "amount": request.amount,
        "currency": request.currency,
        "description": request.description,
        "return_url": request.return_url,
        "customer_email": c.email.lower(),
        "customer": {
            "id": new_id(length=12),
            "first_name": c.first_name,
            "last_name": c.last_name,
            "email": c.email,
            "phone": c.phone,
            "address": c.address,
            "city": c.city,
            "state": c.state,
            "country_code": c.country,
            "zip_code": c.zip,
        },
        "metadata": request.metadata,
        "methods": list(request.methods) if request.methods else None,
        "restrict_country_code": request.restrict_country_code,
        "restricted_phone": {"number": phone.number, "country_code": phone.country_code} if phone else None,
        "is_processed": False,
        "processed_at": None,
        "initiated_at": now,
        "created_at": now,
        "updated_at": now,
    }


async def insert_payment(
    conn: AsyncConnection, row: dict[str, Any], event_data: Mapping[str, Any], now: datetime
) -> None:
    await conn.execute(payments.insert(), row)
    await insert_event(conn, row, EVENT_FOR_STATUS[PaymentStatus.INITIATED], event_data, now)


def _scoped(payment_id: str, scope: Scope) -> Any:
    return and_(
        payments.c.id == payment_id,
        payments.c.app_id == scope.app_id,
        payments.c.environment == scope.environment,
    )


async def get_payment(conn: AsyncConnection, payment_id: str, scope: Scope, *, lock: bool = False) -> Row[Any]:
    """The payment, if ``scope`` may see it; another app's or environment's payment is simply not found."""
    query = select(payments).where(_scoped(payment_id, scope))
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).one_or_none()
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


async def mark_processed(conn: AsyncConnection, payment_id: str, scope: Scope) -> Row[Any]:
    """Record that the merchant has delivered the order; repeating it changes nothing."""
    row = await get_payment(conn, payment_id, scope, lock=True)
    check_processable(PaymentStatus(row.status))
    if row.is_processed:
        return row
    now = utcnow()
    await conn.execute(
        update(payments).where(payments.c.id == payment_id).values(is_processed=True, processed_at=now, updated_at=now)
    )
    return await get_payment(conn, payment_id, scope)


async def move_payment(conn: AsyncConnection, payment_id: str, scope: Scope, target: PaymentStatus) -> Row[Any]:
    """Move a payment to ``target`` through the state machine, as a compare-and-set on its status. Two
    concurrent moves cannot both succeed: the loser's update matches no row and it gets ``TransitionRefused``.
    The caller writes the event the move emits in the same transaction (the unit of work does)."""
    now = utcnow()
    result = await conn.execute(
        update(payments)
        .where(_scoped(payment_id, scope), payments.c.status.in_([s.value for s in sources_of(target)]))
        .values(status=target.value, updated_at=now)
        .returning(*payments.c)
    )
    row = result.one_or_none()
    if row is None:
        current = await get_payment(conn, payment_id, scope)
        check_transition(PaymentStatus(current.status), target)
        raise TransitionRefused(f"The payment changed status concurrently (now {current.status}).")
    return row


async def list_payments(
    conn: AsyncConnection,
    scope: Scope,
    where: PaymentFilter,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[Row[Any]]:
    """Newest first; ``after`` is the (created_at, id) of the last row of the previous page. Returns up to
    ``limit + 1`` rows so the caller knows whether another page follows."""
    query = select(payments).where(payments.c.app_id == scope.app_id, payments.c.environment == scope.environment)
    if where.statuses:
        query = query.where(payments.c.status.in_(where.statuses))
    if where.created_from is not None:
        query = query.where(payments.c.created_at >= where.created_from)
    if where.created_to is not None:
        query = query.where(payments.c.created_at < where.created_to)
    if where.customer_email is not None:
        query = query.where(payments.c.customer_email == where.customer_email.lower())
    for key, value in where.metadata:
        query = query.where(payments.c["metadata"][key].as_string() == value)
    if after is not None:
        at, last_id = after
        query = query.where(or_(payments.c.created_at < at, and_(payments.c.created_at == at, payments.c.id < last_id)))
    query = query.order_by(payments.c.created_at.desc(), payments.c.id.desc()).limit(limit + 1)
    return list((await conn.execute(query)).all())


_OPEN = (PaymentStatus.INITIATED.value, PaymentStatus.PENDING.value)


class PaymentRepository:
    """Payments on one connection; a move through the state machine queues the event it emits."""

    def __init__(self, conn: AsyncConnection, emit: Callable[[str, str], None], ledger: Ledger | None = None) -> None:
        self.conn = conn
        self._emit = emit
        self._ledger = ledger or Ledger(conn)

    async def get(self, payment_id: str, scope: Scope, *, lock: bool = False) -> Row[Any]:
        return await get_payment(self.conn, payment_id, scope, lock=lock)

    async def find(self, payment_id: str, *, lock: bool = False) -> Row[Any] | None:
        """A payment whoever owns it (the checkout knows a payment by its id alone)."""
        query = select(payments).where(payments.c.id == payment_id)
        if lock:
            query = query.with_for_update()
        return (await self.conn.execute(query)).one_or_none()

    async def mark_processed(self, payment_id: str, scope: Scope) -> Row[Any]:
        return await mark_processed(self.conn, payment_id, scope)

    async def move(self, payment_id: str, scope: Scope, target: PaymentStatus) -> Row[Any]:
        row = await move_payment(self.conn, payment_id, scope, target)
        if target is PaymentStatus.SUCCESS:
            await self._ledger.collect(row._mapping)  # in the transaction of the move: never one without the other
        kind = EVENT_FOR_STATUS.get(target)
        if kind is not None:
            self._emit(kind, payment_id)
        return row

    async def page(
        self, scope: Scope, where: PaymentFilter, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Row[Any]]:
        return await list_payments(self.conn, scope, where, limit=limit, after=after)

    async def due_for_expiry(self, now: datetime, limit: int) -> list[str]:
        """Up to ``limit`` payments left unpaid past their app's delay, oldest first, found in SQL (read without
        locks: ``expire`` re-checks). Moneroo cancels abandoned payments after about ten minutes."""
        query = (
            select(payments.c.id)
            .where(
                payments.c.status.in_(_OPEN),
                payments.c.initiated_at
                < select(self._deadline(now)).where(apps.c.id == payments.c.app_id).scalar_subquery(),
            )
            .order_by(payments.c.initiated_at)
            .limit(limit)
        )
        return list((await self.conn.execute(query)).scalars())

    async def expire(self, payment_ids: list[str], now: datetime) -> list[str]:
        """Cancel, in one guarded statement, those of ``payment_ids`` still unpaid; returns them (their events
        are queued)."""
        moved = await self.conn.execute(
            update(payments)
            .where(payments.c.id.in_(payment_ids), payments.c.status.in_(_OPEN))
            .values(status=PaymentStatus.CANCELLED.value, updated_at=now)
            .returning(payments.c.id)
        )
        ids = [r.id for r in moved]
        for payment_id in ids:
            self._emit(EVENT_FOR_STATUS[PaymentStatus.CANCELLED], payment_id)
        return ids

    def _deadline(self, now: datetime) -> ColumnElement[Any]:
        """``now`` minus each app's expiry delay, in SQL: a payment initiated before it has expired."""
        if self.conn.dialect.name == "postgresql":
            return literal(now, UTCDateTime) - apps.c.expiry_minutes * literal_column("interval '1 minute'")
        # SQLite keeps datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text, which compares in time order.
        stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return func.strftime("%Y-%m-%d %H:%M:%f", stamp, "-" + cast(apps.c.expiry_minutes, String) + " minutes")
