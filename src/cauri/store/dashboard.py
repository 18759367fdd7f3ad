"""What the dashboard reads: the payments search (keyset pages, never OFFSET) and a payment's whole story."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, case, cast, exists, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.apps import App
from cauri.domain.dashboard import PaymentSearch
from cauri.store.apps import app_from_row
from cauri.store.tables import (
    apps,
    attempts,
    deliveries,
    delivery_attempts,
    emails,
    events,
    payments,
    webhook_endpoints,
)


class DashboardRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def search(
        self, app_id: str, search: PaymentSearch, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Row[Any]]:
        return list((await self.conn.execute(self.search_query(app_id, search, limit=limit, after=after))).all())

    def search_query(
        self, app_id: str, search: PaymentSearch, *, limit: int, after: tuple[datetime, str] | None
    ) -> Select[Any]:
        """Newest first, up to ``limit`` (callers ask one more to know whether a page follows). Every filter
        keeps the order of an index that starts with (app, environment[, status]) and ends (created_at, id), so
        a page reads about as many rows as it shows, however many payments there are."""
        p = payments.c
        # Each payment's method comes along: its successful attempt's, else its latest attempt's.
        method = (
            select(attempts.c.method)
            .where(attempts.c.payment_id == p.id)
            .order_by((attempts.c.status == "success").desc(), attempts.c.created_at.desc())
            .limit(1)
            .scalar_subquery()
            .label("method")
        )
        query = select(payments, method).where(p.app_id == app_id, p.environment == search.environment)
        if search.statuses:
            query = query.where(p.status.in_(search.statuses))
        if search.created_from is not None:
            query = query.where(p.created_at >= search.created_from)
        if search.created_to is not None:
            query = query.where(p.created_at < search.created_to)
        if search.customer_email is not None:
            query = query.where(p.customer_email == search.customer_email)
        if search.amount_min is not None:
            query = query.where(p.amount >= search.amount_min)
        if search.amount_max is not None:
            query = query.where(p.amount <= search.amount_max)
        for key, value in search.metadata:
            query = query.where(self._metadata_is(key, value))
        if search.method is not None:
            query = query.where(exists().where(attempts.c.payment_id == p.id, attempts.c.method == search.method))
        if after is not None:
            # A row-value comparison, which both databases answer from the index; the equivalent OR of two
            # conditions made PostgreSQL read every row above the cursor.
            query = query.where(tuple_(p.created_at, p.id) < tuple_(*after))
        return query.order_by(p.created_at.desc(), p.id.desc()).limit(limit)

    def _metadata_is(self, key: str, value: str) -> ColumnElement[bool]:
        """``metadata[key] == value`` in the words each database's index answers (migration 0012)."""
        p = payments.c
        if self.conn.dialect.name == "postgresql":
            contains: ColumnElement[bool] = cast(p["metadata"], JSONB).contains({key: value})
            return contains
        if key == "order_id":  # the SQLite index's expression, word for word (a bound path would not match it)
            extracted: ColumnElement[bool] = (
                func.json_extract(p["metadata"], literal_column("'$.\"order_id\"'")) == value
            )
            return extracted
        compared: ColumnElement[bool] = p["metadata"][key].as_string() == value
        return compared

    async def apps(self, app_ids: Sequence[str]) -> list[App]:
        """The apps a user belongs to, oldest first, in one query."""
        query = select(apps).where(apps.c.id.in_(app_ids)).order_by(apps.c.created_at)
        return [app_from_row(row) for row in (await self.conn.execute(query)).all()] if app_ids else []

    async def attempts(self, payment_id: str) -> list[Row[Any]]:
        query = select(attempts).where(attempts.c.payment_id == payment_id).order_by(attempts.c.created_at)
        return list((await self.conn.execute(query)).all())

    async def events(self, payment_id: str) -> list[Row[Any]]:
        query = (
            select(events.c.id, events.c.type, events.c.created_at)
            .where(events.c.payment_id == payment_id)
            .order_by(events.c.created_at, events.c.id)
        )
        result: Any = await self.conn.execute(query)
        return list(result.all())

    async def deliveries(self, event_ids: Sequence[str]) -> list[Row[Any]]:
        query = (
            select(deliveries, webhook_endpoints.c.url)
            .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
            .where(deliveries.c.event_id.in_(event_ids))
        )
        return list((await self.conn.execute(query)).all())

    async def tries(self, delivery_ids: Sequence[str]) -> list[Row[Any]]:
        query = (
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id.in_(delivery_ids))
            .order_by(delivery_attempts.c.attempted_at)
        )
        return list((await self.conn.execute(query)).all())

    async def emails(self, event_ids: Sequence[str]) -> list[Row[Any]]:
        query = select(emails).where(emails.c.event_id.in_(event_ids)).order_by(emails.c.created_at)
        return list((await self.conn.execute(query)).all())

    async def delivery_counts(self, endpoint_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Each endpoint's deliveries by state (delivered, failed, pending)."""
        if not endpoint_ids:
            return {}
        query = (
            select(deliveries.c.endpoint_id, deliveries.c.status, func.count())
            .where(deliveries.c.endpoint_id.in_(endpoint_ids))
            .group_by(deliveries.c.endpoint_id, deliveries.c.status)
        )
        found: dict[str, dict[str, int]] = {}
        for endpoint_id, status, count in (await self.conn.execute(query)).all():
            found.setdefault(endpoint_id, {})[status] = int(count)
        return found

    def _day(self, column: Any) -> Any:
        """A timestamp's UTC day as 'YYYY-MM-DD' on both databases."""
        if self.conn.dialect.name == "postgresql":
            return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
        return func.substr(column, 1, 10)  # SQLite keeps 'YYYY-MM-DD HH:MM:SS…' text in UTC

    async def totals(self, app_id: str, environment: str, since: datetime) -> list[Row[Any]]:
        """Per currency and UTC day since ``since``: payments, those paid and their amount, those that ended."""
        p = payments.c
        day = self._day(p.created_at).label("day")
        paid = p.status == "success"
        query = (
            select(
                p.currency,
                day,
                func.count().label("payments"),
                func.sum(case((paid, 1), else_=0)).label("paid"),
                func.sum(case((paid, p.amount), else_=0)).label("volume"),
                func.sum(case((p.status.in_(("success", "failed", "cancelled")), 1), else_=0)).label("ended"),
            )
            .where(p.app_id == app_id, p.environment == environment, p.created_at >= since)
            .group_by(p.currency, day)
        )
        return list((await self.conn.execute(query)).all())

    async def method_totals(self, app_id: str, environment: str, since: datetime) -> list[Row[Any]]:
        """Per method since ``since``: attempts, and those that succeeded and failed."""
        a, p = attempts.c, payments.c
        query = (
            select(
                a.method,
                func.count().label("attempts"),
                func.sum(case((a.status == "success", 1), else_=0)).label("succeeded"),
                func.sum(case((a.status == "failed", 1), else_=0)).label("failed"),
            )
            .select_from(attempts.join(payments, p.id == a.payment_id))
            .where(p.app_id == app_id, p.environment == environment, p.created_at >= since)
            .group_by(a.method)
        )
        return list((await self.conn.execute(query)).all())

    async def stuck_attempts(self, app_id: str, environment: str, before: datetime, limit: int) -> list[Row[Any]]:
        """Attempts still pending since before ``before``: the provider went silent."""
        a, p = attempts.c, payments.c
        query = (
            select(a.id, a.payment_id, a.method, a.connector, a.created_at)
            .select_from(attempts.join(payments, p.id == a.payment_id))
            .where(p.app_id == app_id, p.environment == environment, a.status == "pending", a.created_at < before)
            .order_by(a.created_at)
            .limit(limit)
        )
        result: Any = await self.conn.execute(query)
        return list(result.all())
