"""Attempts in the database, and the moves of a payment that they cause (always through ``transition``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cauri import metrics
from cauri.domain.attempts import MAX_ATTEMPTS_PER_PAYMENT, AttemptRefused, AttemptStatus
from cauri.domain.payments import EVENT_FOR_STATUS, FINAL_STATUSES, PaymentStatus, TransitionRefused
from cauri.store.clock import as_utc, utcnow
from cauri.store.payments import EventBody, Scope, insert_event, transition
from cauri.store.tables import apps, attempts, payments

log = logging.getLogger("cauri.attempts")


async def payment_for_checkout(conn: AsyncConnection, payment_id: str) -> Row[Any] | None:
    return (await conn.execute(select(payments).where(payments.c.id == payment_id))).one_or_none()


async def app_row(conn: AsyncConnection, app_id: str) -> Row[Any]:
    return (await conn.execute(select(apps).where(apps.c.id == app_id))).one()


async def latest_attempt(conn: AsyncConnection, payment_id: str) -> Row[Any] | None:
    query = (
        select(attempts)
        .where(attempts.c.payment_id == payment_id)
        .order_by(attempts.c.created_at.desc(), attempts.c.id.desc())
        .limit(1)
    )
    return (await conn.execute(query)).one_or_none()


async def captures(conn: AsyncConnection, payment_ids: Sequence[str]) -> dict[str, Row[Any]]:
    """For each payment, its successful attempt, or else its latest one."""
    if not payment_ids:
        return {}
    rows = (
        await conn.execute(
            select(attempts).where(attempts.c.payment_id.in_(payment_ids)).order_by(attempts.c.created_at)
        )
    ).all()
    chosen: dict[str, Row[Any]] = {}
    for row in rows:
        current = chosen.get(row.payment_id)
        if current is None or current.status != AttemptStatus.SUCCESS:
            chosen[row.payment_id] = row
    return chosen


async def start_attempt(engine: AsyncEngine, attempt: dict[str, Any], event_body: EventBody) -> None:
    """Record a new attempt; the payment becomes pending. Refused when the payment is final, when another
    attempt is under way, or past the number of attempts a payment may have."""
    async with engine.begin() as conn:
        payment = (
            await conn.execute(select(payments).where(payments.c.id == attempt["payment_id"]).with_for_update())
        ).one()
        if PaymentStatus(payment.status) in FINAL_STATUSES:
            raise AttemptRefused(f"This payment is already {payment.status}.")
        counts = (
            await conn.execute(
                select(
                    func.count(),
                    func.count().filter(attempts.c.status == AttemptStatus.PENDING.value),
                ).where(attempts.c.payment_id == payment.id)
            )
        ).one()
        if counts[1]:
            raise AttemptRefused("A payment attempt is already under way.")
        if counts[0] >= MAX_ATTEMPTS_PER_PAYMENT:
            raise AttemptRefused("Too many attempts for this payment.")
        await conn.execute(attempts.insert(), attempt)
        if payment.status == PaymentStatus.INITIATED.value:
            await transition(conn, payment.id, _scope(payment), PaymentStatus.PENDING, event_body)


async def record_started(engine: AsyncEngine, attempt_id: str, reference: str, next_action: dict[str, Any]) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(attempts)
            .where(attempts.c.id == attempt_id)
            .values(provider_reference=reference, next_action=next_action, updated_at=utcnow())
        )


async def finish_attempt(
    engine: AsyncEngine,
    attempt_id: str,
    status: AttemptStatus,
    failure_code: str | None,
    failure_message: str | None,
    event_body: EventBody,
) -> bool:
    """Apply a connector's outcome once: a compare-and-set on the attempt's status, then the payment's move
    and its event, in one transaction. Returns False when the attempt had already ended (a repeated or late
    notification), changing nothing."""
    if status is AttemptStatus.PENDING:
        return False
    now = utcnow()
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                update(attempts)
                .where(attempts.c.id == attempt_id, attempts.c.status == AttemptStatus.PENDING.value)
                .values(
                    status=status.value,
                    failure_code=failure_code,
                    failure_message=failure_message,
                    completed_at=now,
                    updated_at=now,
                )
                .returning(attempts.c.payment_id, attempts.c.method)
            )
        ).one_or_none()
        if row is None:
            return False
        payment = (await conn.execute(select(payments).where(payments.c.id == row.payment_id))).one()
        if status is AttemptStatus.SUCCESS:
            try:
                await transition(conn, payment.id, _scope(payment), PaymentStatus.SUCCESS, event_body)
            except TransitionRefused:
                # Paid after the payment was cancelled or expired: keep the attempt's truth for a refund.
                log.error("attempt succeeded on a final payment", extra={"attempt_id": attempt_id})
        else:
            # A failed attempt leaves the payment open for another try, and is announced on its own.
            body = await event_body(conn, payment._mapping)
            await insert_event(conn, payment._mapping, EVENT_FOR_STATUS[PaymentStatus.FAILED], body, now)
    metrics.count_attempt(row.method, status.value)  # after the commit: a rolled-back outcome never happened
    return True


async def cancel_payment(engine: AsyncEngine, payment_id: str, reason: str, event_body: EventBody) -> None:
    """Cancel (by the customer, or on expiry); an attempt still under way fails with ``reason``."""
    now = utcnow()
    async with engine.begin() as conn:
        payment = (await conn.execute(select(payments).where(payments.c.id == payment_id))).one()
        await conn.execute(
            update(attempts)
            .where(attempts.c.payment_id == payment_id, attempts.c.status == AttemptStatus.PENDING.value)
            .values(
                status=AttemptStatus.FAILED.value,
                failure_code="cancelled",
                failure_message=reason,
                completed_at=now,
                updated_at=now,
            )
        )
        await transition(conn, payment_id, _scope(payment), PaymentStatus.CANCELLED, event_body)


async def expired_payment_ids(engine: AsyncEngine, now: datetime) -> list[str]:
    """Payments left unpaid past their app's delay (Moneroo cancels abandoned payments after ~10 minutes)."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(payments.c.id, payments.c.initiated_at, apps.c.expiry_minutes)
                .join(apps, apps.c.id == payments.c.app_id)
                .where(payments.c.status.in_([PaymentStatus.INITIATED.value, PaymentStatus.PENDING.value]))
                .where(payments.c.initiated_at < now - timedelta(minutes=1))
            )
        ).all()
    return [r.id for r in rows if as_utc(r.initiated_at) + timedelta(minutes=r.expiry_minutes) <= now]


async def stale_attempts(engine: AsyncEngine, older_than: datetime) -> list[Row[Any]]:
    async with engine.connect() as conn:
        query = select(attempts).where(
            and_(attempts.c.status == AttemptStatus.PENDING.value, attempts.c.created_at < older_than)
        )
        return list((await conn.execute(query)).all())


def _scope(payment: Any) -> Scope:
    return Scope(payment.app_id, payment.environment)
