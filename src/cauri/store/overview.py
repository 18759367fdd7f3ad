"""What the dashboard's overview reads: payments counted and summed per currency, method and day, and the
attempts stuck in pending. Every figure is an aggregate the database computes (a month of payments is never
read row by row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.store.tables import attempts, payments

_SUCCESS = "success"


class OverviewRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _day(self) -> ColumnElement[Any]:
        """A payment's UTC day as ``YYYY-MM-DD`` on both databases (SQLite keeps UTC times as text)."""
        if self.conn.dialect.name == "postgresql":
            return func.to_char(func.timezone("UTC", payments.c.created_at), "YYYY-MM-DD")
        return func.substr(cast(payments.c.created_at, String), 1, 10)

    def _figures(self) -> tuple[ColumnElement[Any], ...]:
        won = payments.c.status == _SUCCESS
        return (
            func.count(),
            func.coalesce(func.sum(case((won, 1), else_=0)), 0),
            func.coalesce(func.sum(case((won, payments.c.amount), else_=0)), 0),
        )

    async def by_currency(
        self, app_id: str, environment: str, since: datetime, until: datetime
    ) -> list[tuple[Any, ...]]:
        """(currency, payments, succeeded, volume of the succeeded) of the payments created in [since, until)."""
        p = payments.c
        query = (
            select(p.currency, *self._figures())
            .where(p.app_id == app_id, p.environment == environment, p.created_at >= since, p.created_at < until)
            .group_by(p.currency)
            .order_by(p.currency)
        )
        return [tuple(r) for r in await self.conn.execute(query)]

    async def by_day(self, app_id: str, environment: str, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """(day, currency, payments, succeeded, volume) per UTC day of [since, until)."""
        p = payments.c
        day = self._day().label("day")
        query = (
            select(day, p.currency, *self._figures())
            .where(p.app_id == app_id, p.environment == environment, p.created_at >= since, p.created_at < until)
            .group_by(day, p.currency)
            .order_by(day, p.currency)
        )
        return [tuple(r) for r in await self.conn.execute(query)]

    async def by_method(self, app_id: str, environment: str, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """(method, currency, attempts, succeeded, volume) of the attempts made on payments created in
        [since, until): a method's success rate is its attempts', a customer may try several."""
        p, a = payments.c, attempts.c
        won = a.status == _SUCCESS
        query = (
            select(
                a.method,
                p.currency,
                func.count(),
                func.coalesce(func.sum(case((won, 1), else_=0)), 0),
                func.coalesce(func.sum(case((won, p.amount), else_=0)), 0),
            )
            .join(payments, p.id == a.payment_id)
            .where(p.app_id == app_id, p.environment == environment, p.created_at >= since, p.created_at < until)
            .group_by(a.method, p.currency)
            .order_by(a.method, p.currency)
        )
        return [tuple(r) for r in await self.conn.execute(query)]

    async def stuck_attempts(self, app_id: str, environment: str, older_than: datetime, *, limit: int) -> list[Any]:
        """Attempts still pending that started before ``older_than``, oldest first (the status index)."""
        p, a = payments.c, attempts.c
        query = (
            select(a.id, a.payment_id, a.method, a.connector, a.created_at, p.amount, p.currency)
            .join(payments, p.id == a.payment_id)
            .where(
                and_(a.status == "pending", a.created_at < older_than),
                p.app_id == app_id,
                p.environment == environment,
            )
            .order_by(a.created_at)
            .limit(limit)
        )
        return list((await self.conn.execute(query)).all())
