"""Webhook endpoints, and the deliveries of the outbox: written with their event, claimed by workers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, case, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.clock import utcnow
from cauri.domain.errors import FieldErrors, NotFound, ValidationFailed
from cauri.domain.payments import new_id, new_sorted_id
from cauri.domain.webhooks import MAX_ENDPOINTS, TEST_EVENT
from cauri.store.claims import GroupCap, claim_due_rows
from cauri.store.sealing import seal
from cauri.store.tables import apps, deliveries, delivery_attempts, emails, events, webhook_endpoints

ENDPOINT_NOT_FOUND = "Webhook endpoint not found."


async def insert_deliveries(
    conn: AsyncConnection, event_id: str, app_id: str, environment: str, event_type: str, now: datetime
) -> None:
    """One pending delivery per enabled endpoint subscribed to ``event_type``, in the event's transaction."""
    chosen = select(
        literal(event_id + ":") + webhook_endpoints.c.id,
        literal(event_id),
        webhook_endpoints.c.id,
        literal("pending"),
        literal(0),
        literal(now, deliveries.c.next_attempt_at.type),
        literal(now, deliveries.c.created_at.type),
    ).where(
        webhook_endpoints.c.app_id == app_id,
        webhook_endpoints.c.environment == environment,
        webhook_endpoints.c.is_enabled.is_(True),
        or_(
            webhook_endpoints.c.event_types == "*",
            (literal(",") + webhook_endpoints.c.event_types + literal(",")).like(f"%,{event_type},%"),
        ),
    )
    columns = ["id", "event_id", "endpoint_id", "status", "attempts", "next_attempt_at", "created_at"]
    await conn.execute(insert(deliveries).from_select(columns, chosen))


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: str
    endpoint_id: str
    attempts: int  # including this one
    lease: datetime  # the claim's token: only its holder may record the outcome
    event_id: str
    event_type: str
    data: Any
    environment: str
    url: str
    secret_encrypted: bytes


@dataclass(frozen=True, slots=True)
class TryResult:
    claim: Claim
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None
    outcome: str  # delivered, pending (to retry) or failed (for good)
    next_attempt_at: datetime | None


#: An endpoint whose deliveries have all failed for this long is disabled (its merchant is told by email).
DEAD_AFTER = timedelta(days=3)


async def _disable_if_dead(conn: AsyncConnection, claim: Claim, now: datetime) -> None:
    """A delivery just ran out of retries: if nothing reached its endpoint for DEAD_AFTER, stop sending to it
    rather than pile up deliveries nobody receives, and tell the merchant."""
    endpoint_id = claim.delivery_id.split(":", 1)[1]
    recent = (
        await conn.execute(
            select(func.count()).where(
                deliveries.c.endpoint_id == endpoint_id,
                deliveries.c.status == "delivered",
                deliveries.c.delivered_at > now - DEAD_AFTER,
            )
        )
    ).scalar_one()
    if recent:
        return
    changed = await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.is_enabled.is_(True))
        .values(is_enabled=False)
        .returning(webhook_endpoints.c.app_id, webhook_endpoints.c.url)
    )
    row = changed.one_or_none()
    if row is None:
        return
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.status == "pending")
        .values(status="failed")
    )
    notify = (await conn.execute(select(apps.c.notify_email).where(apps.c.id == row.app_id))).scalar()
    if notify:
        await conn.execute(
            emails.insert().values(
                id=new_sorted_id("eml_"),
                event_id=claim.event_id,
                kind="endpoint_disabled",
                to_address=notify,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


class WebhookRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create_endpoint(
        self, master: bytes, app_id: str, environment: str, url: str, secret: str,
        event_types: list[str] | None,
    ) -> Row[Any]:  # fmt: skip
        now = utcnow()
        count = (
            await self.conn.execute(
                select(func.count()).where(
                    webhook_endpoints.c.app_id == app_id, webhook_endpoints.c.environment == environment
                )
            )
        ).scalar_one()
        if count >= MAX_ENDPOINTS:
            errors = FieldErrors()
            errors.add("url", f"An app may have at most {MAX_ENDPOINTS} webhook endpoints per environment.")
            raise ValidationFailed(errors)
        endpoint_id = new_id("we_")
        await self.conn.execute(
            webhook_endpoints.insert().values(
                id=endpoint_id,
                app_id=app_id,
                environment=environment,
                url=url,
                secret_encrypted=seal(master, secret),
                event_types=",".join(event_types) if event_types else "*",
                is_enabled=True,
                created_at=now,
            )
        )
        return (await self.conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))).one()

    async def list_endpoints(self, app_id: str, environment: str) -> list[Row[Any]]:
        query = (
            select(webhook_endpoints)
            .where(webhook_endpoints.c.app_id == app_id, webhook_endpoints.c.environment == environment)
            .order_by(webhook_endpoints.c.created_at)
        )
        return list((await self.conn.execute(query)).all())

    async def disable_endpoint(self, app_id: str, environment: str, endpoint_id: str) -> None:
        """Deleting keeps the row (its deliveries refer to it) but stops every delivery to it."""
        result = await self.conn.execute(
            update(webhook_endpoints)
            .where(
                webhook_endpoints.c.id == endpoint_id,
                webhook_endpoints.c.app_id == app_id,
                webhook_endpoints.c.environment == environment,
                webhook_endpoints.c.is_enabled.is_(True),
            )
            .values(is_enabled=False)
        )
        if not result.rowcount:
            raise NotFound(ENDPOINT_NOT_FOUND)
        await self.conn.execute(
            update(deliveries)
            .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.status == "pending")
            .values(status="failed")
        )

    async def claim_due(
        self,
        lease_until: datetime,
        limit: int,
        *,
        per_endpoint: int | None = None,
        busy: Mapping[str, int] | None = None,
    ) -> list[Claim]:
        """Take up to ``limit`` due deliveries for this worker until ``lease_until`` (see ``claim_due_rows``), at
        most ``per_endpoint`` per endpoint counting the ``busy`` ones it already holds. A delivery to a disabled
        endpoint (one deleted while its event was being written) fails instead of being returned."""
        cap = GroupCap("endpoint_id", per_endpoint, busy or {}) if per_endpoint is not None else None
        attempts = await claim_due_rows(self.conn, deliveries, lease_until, limit, cap)
        if not attempts:
            return []
        rows = (
            await self.conn.execute(
                select(
                    deliveries.c.id,
                    deliveries.c.endpoint_id,
                    events.c.id.label("event_id"),
                    events.c.type,
                    events.c.data,
                    events.c.environment,
                    webhook_endpoints.c.url,
                    webhook_endpoints.c.secret_encrypted,
                    webhook_endpoints.c.is_enabled,
                )
                .join(events, events.c.id == deliveries.c.event_id)
                .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
                .where(deliveries.c.id.in_(list(attempts)))
            )
        ).all()
        stopped = [r.id for r in rows if not r.is_enabled]
        if stopped:
            await self.conn.execute(
                update(deliveries).where(deliveries.c.id.in_(stopped)).values(status="failed", locked_until=None)
            )
        return [
            Claim(
                r.id,
                r.endpoint_id,
                attempts[r.id],
                lease_until,
                r.event_id,
                r.type,
                r.data,
                r.environment,
                r.url,
                bytes(r.secret_encrypted),
            )
            for r in rows
            if r.is_enabled
        ]

    async def record_attempts(self, results: list[TryResult]) -> None:
        """Record a batch of tries and their consequences in one transaction. A delivery whose lease was lost
        (its worker was presumed dead and another took it) keeps the new owner's state, and one that ended
        while in flight (its endpoint was deleted) stays failed; the try is still logged, since it did happen."""
        if not results:
            return
        now = utcnow()
        await self.conn.execute(
            update(deliveries)
            .where(
                deliveries.c.id == bindparam("b_id"),
                deliveries.c.locked_until == bindparam("b_lease"),
                deliveries.c.status == "pending",
            )
            .values(
                status=bindparam("b_status"),
                locked_until=None,
                next_attempt_at=bindparam("b_next"),
                delivered_at=bindparam("b_delivered"),
            ),
            [
                {
                    "b_id": r.claim.delivery_id,
                    "b_lease": r.claim.lease,
                    "b_status": r.outcome,
                    "b_next": r.next_attempt_at or now,
                    "b_delivered": now if r.outcome == "delivered" else None,
                }
                for r in results
            ],
        )
        for result in results:
            if result.outcome == "failed":
                await _disable_if_dead(self.conn, result.claim, now)
        await self.conn.execute(
            delivery_attempts.insert(),
            [
                {
                    "id": new_sorted_id("dat_"),
                    "delivery_id": r.claim.delivery_id,
                    "attempted_at": now,
                    "status_code": r.status_code,
                    "latency_ms": r.latency_ms,
                    "response_excerpt": r.excerpt,
                    "error": r.error,
                }
                for r in results
            ],
        )

    async def delivery_history(self, delivery_id: str) -> list[Row[Any]]:
        query = (
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.attempted_at)
        )
        return list((await self.conn.execute(query)).all())

    async def list_events(
        self, app_id: str, environment: str, *, limit: int, before: str | None
    ) -> list[dict[str, Any]]:
        """Newest first, each with its deliveries' states (``before``: the last event id of the previous page).
        The dashboard's test events are left out: they are no event of the API's contract."""
        query = select(events.c.id, events.c.type, events.c.payment_id, events.c.payout_id, events.c.created_at).where(
            events.c.app_id == app_id, events.c.environment == environment, events.c.type != TEST_EVENT
        )
        if before is not None:
            anchor = (
                await self.conn.execute(
                    select(events.c.created_at).where(
                        events.c.id == before, events.c.app_id == app_id, events.c.environment == environment
                    )
                )
            ).scalar()
            if anchor is not None:
                query = query.where(
                    or_(events.c.created_at < anchor, and_(events.c.created_at == anchor, events.c.id < before))
                )
        rows = (
            await self.conn.execute(query.order_by(events.c.created_at.desc(), events.c.id.desc()).limit(limit))
        ).all()
        sent = (
            await self.conn.execute(select(deliveries).where(deliveries.c.event_id.in_([r.id for r in rows])))
        ).all()
        by_event: dict[str, list[dict[str, Any]]] = {}
        for d in sent:
            by_event.setdefault(d.event_id, []).append(
                {"id": d.id, "endpoint_id": d.endpoint_id, "status": d.status, "attempts": d.attempts}
            )
        return [
            {
                "id": r.id,
                "type": r.type,
                "payment_id": r.payment_id,
                "payout_id": r.payout_id,
                "created_at": r.created_at,
                "deliveries": by_event.get(r.id, []),
            }
            for r in rows
        ]

    async def resend_event(self, app_id: str, environment: str, event_id: str) -> int:
        """Send an event again to every endpoint that owes or owed it: its deliveries become due now (a fresh
        schedule of retries), and enabled endpoints added since get one too. Returns how many are due."""
        now = utcnow()
        event = (
            await self.conn.execute(
                select(events).where(
                    events.c.id == event_id, events.c.app_id == app_id, events.c.environment == environment
                )
            )
        ).one_or_none()
        if event is None:
            raise NotFound("Event not found.")
        await self.conn.execute(
            update(deliveries)
            .where(
                deliveries.c.event_id == event_id,
                deliveries.c.endpoint_id.in_(
                    select(webhook_endpoints.c.id).where(webhook_endpoints.c.is_enabled.is_(True))
                ),
            )
            .values(status="pending", attempts=0, next_attempt_at=now, locked_until=None)
        )
        existing = select(deliveries.c.endpoint_id).where(deliveries.c.event_id == event_id)
        missing = (
            (
                await self.conn.execute(
                    select(webhook_endpoints.c.id).where(
                        webhook_endpoints.c.app_id == app_id,
                        webhook_endpoints.c.environment == environment,
                        webhook_endpoints.c.is_enabled.is_(True),
                        webhook_endpoints.c.id.not_in(existing),
                    )
                )
            )
            .scalars()
            .all()
        )
        for endpoint_id in missing:
            await self.conn.execute(
                deliveries.insert().values(
                    id=f"{event_id}:{endpoint_id}",
                    event_id=event_id,
                    endpoint_id=endpoint_id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        due = (
            await self.conn.execute(
                select(func.count()).where(deliveries.c.event_id == event_id, deliveries.c.status == "pending")
            )
        ).scalar_one()
        return int(due)

    async def delivery(self, app_id: str, environment: str, delivery_id: str) -> Row[Any] | None:
        """A delivery, if it went to one of this app's endpoints in this environment."""
        query = (
            select(deliveries)
            .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
            .where(
                deliveries.c.id == delivery_id,
                webhook_endpoints.c.app_id == app_id,
                webhook_endpoints.c.environment == environment,
            )
        )
        return (await self.conn.execute(query)).one_or_none()

    async def send_test(self, app_id: str, environment: str, endpoint_id: str, data: dict[str, Any]) -> str:
        """A ``webhook.test`` event and its one delivery, to this enabled endpoint alone (the dispatcher sends it
        as any other, signed, with retries); returns the event's id."""
        now = utcnow()
        enabled = (
            await self.conn.execute(
                select(webhook_endpoints.c.id).where(
                    webhook_endpoints.c.id == endpoint_id,
                    webhook_endpoints.c.app_id == app_id,
                    webhook_endpoints.c.environment == environment,
                    webhook_endpoints.c.is_enabled.is_(True),
                )
            )
        ).scalar()
        if enabled is None:
            raise NotFound(ENDPOINT_NOT_FOUND)
        event_id = new_sorted_id("evt_")
        await self.conn.execute(
            events.insert().values(
                id=event_id,
                app_id=app_id,
                environment=environment,
                type=TEST_EVENT,
                payment_id=None,
                payout_id=None,
                data={"id": event_id, **data},
                created_at=now,
            )
        )
        await self.conn.execute(
            deliveries.insert().values(
                id=f"{event_id}:{endpoint_id}",
                event_id=event_id,
                endpoint_id=endpoint_id,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        return event_id

    async def endpoint_stats(self, app_id: str, environment: str, since: datetime) -> dict[str, dict[str, int]]:
        """Per endpoint of the app, its deliveries made since ``since`` by status: delivered, failed (for
        good), retrying (pending after a failed try) and pending (not tried yet)."""
        d, e = deliveries.c, webhook_endpoints.c
        status = case((and_(d.status == "pending", d.attempts > 0), literal("retrying")), else_=d.status)
        rows = (
            await self.conn.execute(
                select(d.endpoint_id, status, func.count())
                .join(webhook_endpoints, e.id == d.endpoint_id)
                .where(e.app_id == app_id, e.environment == environment, d.created_at >= since)
                .group_by(d.endpoint_id, status)
            )
        ).all()
        stats: dict[str, dict[str, int]] = {}
        for endpoint_id, status, count in rows:
            stats.setdefault(endpoint_id, {})[status] = int(count)
        return stats
