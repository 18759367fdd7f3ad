"""Payouts in the database: each move is a compare-and-set on the status, queued with the event it emits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.apps import Scope
from cauri.domain.clock import iso, utcnow
from cauri.domain.errors import NotFound
from cauri.domain.ledger import PAID_OUT
from cauri.domain.payments import PaymentFilter, new_id, new_sorted_id
from cauri.domain.payout_representation import Payout, payout_object
from cauri.domain.payout_request import PayoutRequest
from cauri.domain.payouts import (
    PAYOUT_EVENT_FOR_STATUS,
    PAYOUT_NOT_FOUND,
    STAMP_FOR_STATUS,
    PayoutStatus,
    payout_sources_of,
)
from cauri.domain.representation import AppLike, app_object
from cauri.store.apps import app_from_row
from cauri.store.ledger import Ledger
from cauri.store.tables import apps, payouts

_OPEN = (PayoutStatus.INITIATED.value, PayoutStatus.PENDING.value)


def new_payout_row(request: PayoutRequest, scope: Scope, connector: str, now: datetime) -> dict[str, Any]:
    c = request.customer
    return {
        "id": new_sorted_id("po_"),
        "app_id": scope.app_id,
        "environment": scope.environment,
        "status": PayoutStatus.INITIATED.value,
        "amount": request.amount,
        "currency": request.currency,
        "description": request.description,
        "method": request.method,
        "recipient": dict(request.recipient),
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
        "connector": connector,
        "provider_reference": None,
        "failure_code": None,
        "failure_message": None,
        "initiated_at": now,
        "pending_at": None,
        "success_at": None,
        "failed_at": None,
        "created_at": now,
        "updated_at": now,
        "locked_until": None,
    }


class PayoutRepository:
    """Payouts on one connection; a move through the state machine queues the event it emits."""

    def __init__(self, conn: AsyncConnection, emit: Callable[[str, str], None], ledger: Ledger | None = None) -> None:
        self.conn = conn
        self._emit = emit
        self._ledger = ledger or Ledger(conn)

    async def add(self, row: dict[str, Any]) -> None:
        """Record the payout, its amount set aside from the available balance (422 on ``amount`` beyond it)."""
        await self.conn.execute(payouts.insert(), row)
        await self._ledger.spend(row, row["amount"], PAID_OUT, row["id"])
        self._emit(PAYOUT_EVENT_FOR_STATUS[PayoutStatus.INITIATED], row["id"])

    async def get(self, payout_id: str, scope: Scope) -> Row[Any]:
        """The payout, if ``scope`` may see it; another app's or environment's payout is simply not found."""
        query = select(payouts).where(
            payouts.c.id == payout_id, payouts.c.app_id == scope.app_id, payouts.c.environment == scope.environment
        )
        row = (await self.conn.execute(query)).one_or_none()
        if row is None:
            raise NotFound(PAYOUT_NOT_FOUND)
        return row

    async def find(self, payout_id: str) -> Row[Any] | None:
        return (await self.conn.execute(select(payouts).where(payouts.c.id == payout_id))).one_or_none()

    async def move(
        self,
        payout_id: str,
        target: PayoutStatus,
        *,
        connector: str | None = None,
        reference: str | None = None,
        failure_code: str | None = None,
        failure_message: str | None = None,
    ) -> Row[Any] | None:
        """Move a payout to ``target`` through the state machine, as a compare-and-set on its status (and, when
        given, on the connector that carries it). Returns the moved row, or None when the payout was not in a
        status ``target`` can be reached from (ended already, or moved by a concurrent caller): of two moves,
        exactly one succeeds."""
        now = utcnow()
        values: dict[str, Any] = {"status": target.value, "updated_at": now, "locked_until": None}
        values[STAMP_FOR_STATUS[target]] = now
        if reference is not None:
            values["provider_reference"] = reference
        if target is PayoutStatus.FAILED:
            values["failure_code"] = failure_code
            values["failure_message"] = failure_message
        guard = [payouts.c.id == payout_id, payouts.c.status.in_([s.value for s in payout_sources_of(target)])]
        if connector is not None:
            guard.append(payouts.c.connector == connector)
        result = await self.conn.execute(update(payouts).where(*guard).values(**values).returning(*payouts.c))
        row = result.one_or_none()
        if row is not None and target is PayoutStatus.FAILED:
            await self._ledger.release(row._mapping, row.amount, PAID_OUT, payout_id)
        if row is not None and target in PAYOUT_EVENT_FOR_STATUS:
            self._emit(PAYOUT_EVENT_FOR_STATUS[target], payout_id)
        return row

    async def hand_over(self, payout_id: str, holder: str, connector: str) -> bool:
        """Move a pending payout from ``holder`` to ``connector`` (failover: ``holder`` could not be reached, so
        nothing was sent there). False when the payout is no longer pending, or no longer ``holder``'s."""
        c = payouts.c
        query = (
            update(payouts)
            .where(c.id == payout_id, c.status == PayoutStatus.PENDING.value, c.connector == holder)
            .values(connector=connector, updated_at=utcnow())
        )
        return bool((await self.conn.execute(query)).rowcount)

    async def record_reference(self, payout_id: str, reference: str) -> None:
        await self.conn.execute(
            update(payouts).where(payouts.c.id == payout_id).values(provider_reference=reference, updated_at=utcnow())
        )

    async def page(
        self, scope: Scope, where: PaymentFilter, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Row[Any]]:
        """Newest first; ``after`` is the (created_at, id) of the last row of the previous page. Returns up to
        ``limit + 1`` rows so the caller knows whether another page follows."""
        c = payouts.c
        query = select(payouts).where(c.app_id == scope.app_id, c.environment == scope.environment)
        if where.statuses:
            query = query.where(c.status.in_(where.statuses))
        if where.created_from is not None:
            query = query.where(c.created_at >= where.created_from)
        if where.created_to is not None:
            query = query.where(c.created_at < where.created_to)
        if where.customer_email is not None:
            query = query.where(c.customer_email == where.customer_email.lower())
        for key, value in where.metadata:
            query = query.where(c["metadata"][key].as_string() == value)
        if after is not None:
            at, last_id = after
            query = query.where(or_(c.created_at < at, and_(c.created_at == at, c.id < last_id)))
        query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit + 1)
        return list((await self.conn.execute(query)).all())

    async def claim_stale(self, older_than: datetime, lease_until: datetime, limit: int) -> list[Row[Any]]:
        """Take up to ``limit`` payouts still open (initiated: never handed over; pending: the provider went
        silent) since before ``older_than`` and not leased by another worker, until ``lease_until``."""
        now = utcnow()
        c = payouts.c
        due = (
            select(c.id)
            .where(
                c.status.in_(_OPEN),
                c.updated_at < older_than,
                or_(c.locked_until.is_(None), c.locked_until < now),
            )
            .order_by(c.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = await self.conn.execute(
            update(payouts).where(c.id.in_(due.scalar_subquery())).values(locked_until=lease_until).returning(*c)
        )
        return list(claimed.all())


async def payout_views(
    conn: AsyncConnection, rows: Sequence[Mapping[Any, Any]], *, app: AppLike | None = None
) -> list[Payout]:
    """Payout objects for ``rows`` (one query for the app if not given)."""
    if not rows:
        return []
    if app is None:
        app = app_from_row((await conn.execute(select(apps).where(apps.c.id == rows[0]["app_id"]))).one())
    app_data = app_object(app, iso)
    return [payout_object(row, app_data, iso=iso) for row in rows]
