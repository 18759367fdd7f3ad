"""Attempts in the database: one try at paying, started on the checkout page, ended by its connector."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.attempts import AttemptStatus
from cauri.domain.clock import utcnow
from cauri.store.tables import attempts


class AttemptRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def latest(self, payment_id: str) -> Row[Any] | None:
        query = (
            select(attempts)
            .where(attempts.c.payment_id == payment_id)
            .order_by(attempts.c.created_at.desc(), attempts.c.id.desc())
            .limit(1)
        )
        return (await self.conn.execute(query)).one_or_none()

    async def captures(self, payment_ids: Sequence[str]) -> dict[str, Row[Any]]:
        """For each payment, its successful attempt, or else its latest one."""
        if not payment_ids:
            return {}
        rows = (
            await self.conn.execute(
                select(attempts).where(attempts.c.payment_id.in_(payment_ids)).order_by(attempts.c.created_at)
            )
        ).all()
        chosen: dict[str, Row[Any]] = {}
        for row in rows:
            current = chosen.get(row.payment_id)
            if current is None or current.status != AttemptStatus.SUCCESS:
                chosen[row.payment_id] = row
        return chosen

    async def counts(self, payment_id: str) -> tuple[int, int]:
        """How many attempts the payment has had, and how many are still under way."""
        row = (
            await self.conn.execute(
                select(func.count(), func.count().filter(attempts.c.status == AttemptStatus.PENDING.value)).where(
                    attempts.c.payment_id == payment_id
                )
            )
        ).one()
        return int(row[0]), int(row[1])

    async def charge_of(self, attempt_id: str, connector: str) -> Row[Any] | None:
        """What ``connector``'s attempt asks the provider to collect (``payment_id``, ``amount_debited`` and
        ``currency_debited``, null when the method's currency is the payment's), or None when it has no such
        attempt."""
        columns = (attempts.c.payment_id, attempts.c.amount_debited, attempts.c.currency_debited)
        query = select(*columns).where(attempts.c.id == attempt_id, attempts.c.connector == connector)
        return (await self.conn.execute(query)).one_or_none()  # type: ignore[return-value]  # three columns

    async def add(self, row: dict[str, Any]) -> None:
        await self.conn.execute(attempts.insert(), row)

    async def record_started(self, attempt_id: str, reference: str, next_action: dict[str, Any]) -> None:
        await self.conn.execute(
            update(attempts)
            .where(attempts.c.id == attempt_id)
            .values(provider_reference=reference, next_action=next_action, updated_at=utcnow())
        )

    async def record_routing(self, attempt_id: str, steps: list[Any], connector: str | None = None) -> bool:
        """Record how the attempt was routed; with ``connector``, move the attempt to it (only while pending, so
        that it is still the one a notification may end). False when the attempt is no longer pending."""
        query = update(attempts).where(attempts.c.id == attempt_id).values(routing=steps, updated_at=utcnow())
        if connector is not None:
            query = query.where(attempts.c.status == AttemptStatus.PENDING.value).values(connector=connector)
        return bool((await self.conn.execute(query)).rowcount)

    async def finish(
        self,
        attempt_id: str,
        connector: str,
        status: AttemptStatus,
        failure_code: str | None,
        failure_message: str | None,
        reference: str | None = None,
    ) -> tuple[str, str] | None:
        """End a pending attempt of ``connector`` once (a compare-and-set on its status); returns its payment's
        id and its method, or None when it had already ended or belongs to another connector (changing
        nothing). ``reference``, the provider's id of the transaction, is kept when the start never recorded one."""
        now = utcnow()
        known = attempts.c.provider_reference
        kept = case((or_(known.is_(None), known == ""), reference), else_=known) if reference else known
        row = (
            await self.conn.execute(
                update(attempts)
                .where(
                    attempts.c.id == attempt_id,
                    attempts.c.connector == connector,
                    attempts.c.status == AttemptStatus.PENDING.value,
                )
                .values(
                    status=status.value,
                    failure_code=failure_code,
                    failure_message=failure_message,
                    completed_at=now,
                    updated_at=now,
                    locked_until=None,
                    provider_reference=kept,
                )
                .returning(attempts.c.payment_id, attempts.c.method)
            )
        ).one_or_none()
        return None if row is None else (str(row.payment_id), str(row.method))

    async def fail_pending(self, payment_ids: Sequence[str], code: str, reason: str) -> None:
        """The attempts still under way of payments that just ended (cancelled, expired) fail with ``reason``."""
        if not payment_ids:
            return
        now = utcnow()
        await self.conn.execute(
            update(attempts)
            .where(attempts.c.payment_id.in_(payment_ids), attempts.c.status == AttemptStatus.PENDING.value)
            .values(
                status=AttemptStatus.FAILED.value,
                failure_code=code,
                failure_message=reason,
                completed_at=now,
                updated_at=now,
            )
        )

    async def claim_stale(self, older_than: datetime, lease_until: datetime, limit: int) -> list[Row[Any]]:
        """Take up to ``limit`` attempts pending since before ``older_than`` and not leased by another worker,
        until ``lease_until``: no two processes ask a provider about the same attempt at once."""
        now = utcnow()
        c = attempts.c
        due = (
            select(c.id)
            .where(
                c.status == AttemptStatus.PENDING.value,
                c.created_at < older_than,
                or_(c.locked_until.is_(None), c.locked_until < now),
            )
            .order_by(c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = await self.conn.execute(
            update(attempts).where(c.id.in_(due.scalar_subquery())).values(locked_until=lease_until).returning(*c)
        )
        return list(claimed.all())
