"""Payments in the database: each write commits with the event it emits, in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.errors import NotFound
from cauri.domain.payment_request import PaymentRequest
from cauri.domain.payments import (
    EVENT_FOR_STATUS,
    PaymentStatus,
    TransitionRefused,
    check_processable,
    check_transition,
    new_id,
    sources_of,
)
from cauri.store.clock import utcnow
from cauri.store.emails import insert_emails
from cauri.store.tables import events, payments
from cauri.store.webhooks import insert_deliveries

NOT_FOUND = "Payment transaction not found."


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose resources a request may see: one app, in one environment."""

    app_id: str
    environment: str


def new_payment_row(request: PaymentRequest, scope: Scope, now: datetime) -> dict[str, Any]:
    """The row ``insert_payment`` writes, built before the transaction so the response can be too."""
    c = request.customer
    phone = request.restricted_phone
    return {
        "id": new_id("py_"),
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


async def insert_payment(conn: AsyncConnection, row: dict[str, Any], event_data: dict[str, Any], now: datetime) -> None:
    await conn.execute(payments.insert(), row)
    await insert_event(conn, row, EVENT_FOR_STATUS[PaymentStatus.INITIATED], event_data, now)


async def insert_event(
    conn: AsyncConnection, payment: Mapping[Any, Any], kind: str, data: dict[str, Any], now: datetime
) -> None:
    """The event, and the webhook deliveries and emails it owes, in the caller's transaction (the outbox)."""
    event_id = new_id("evt_")
    await conn.execute(
        events.insert(),
        {
            "id": event_id,
            "app_id": payment["app_id"],
            "environment": payment["environment"],
            "type": kind,
            "payment_id": payment["id"],
            "data": data,
            "created_at": now,
        },
    )
    await insert_deliveries(conn, event_id, payment["app_id"], payment["environment"], kind, now)
    await insert_emails(conn, event_id, payment, kind, now)


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


#: Builds an event's body from the payment row, inside the transaction that emits the event.
EventBody = Callable[[AsyncConnection, Mapping[Any, Any]], Awaitable[dict[str, Any]]]


async def transition(
    conn: AsyncConnection,
    payment_id: str,
    scope: Scope,
    target: PaymentStatus,
    event_body: EventBody,
) -> Row[Any]:
    """Move a payment to ``target`` through the state machine, as a compare-and-set on its status, and write
    the event it emits in the same transaction. Two concurrent moves cannot both succeed: the loser's update
    matches no row and it gets ``TransitionRefused``.

    ``event_body`` builds the event's body from the updated row (it is called only when an event is due).
    """
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
    kind = EVENT_FOR_STATUS.get(target)
    if kind is not None:
        await insert_event(conn, row._mapping, kind, await event_body(conn, row._mapping), now)
    return row


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    statuses: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    customer_email: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()


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
