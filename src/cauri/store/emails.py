"""Emails of the outbox: written with the event that owes them, claimed and sent by the dispatcher."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.clock import utcnow
from cauri.domain.payments import new_sorted_id
from cauri.store.claims import claim_due_rows
from cauri.store.tables import apps, emails, events

#: The events that may owe an email; others skip the app lookup altogether.
MAILED_EVENTS = frozenset({"payment.success", "payment.failed"})


async def insert_emails(
    conn: AsyncConnection, event_id: str, payment: Mapping[Any, Any], kind: str, now: datetime
) -> None:
    """On success: the customer's receipt and the merchant's notice; on a failed attempt: the merchant's
    notice if the app asked for those. Each as the app's switches allow."""
    if kind not in MAILED_EVENTS:
        return
    app = (await conn.execute(select(apps).where(apps.c.id == payment["app_id"]))).one()
    owed: list[tuple[str, str]] = []
    if kind == "payment.success" and app.send_receipts:
        owed.append(("receipt", payment["customer"]["email"]))
    if app.notify_email and app.send_notices and (kind == "payment.success" or app.notify_failures):
        owed.append(("notice", app.notify_email))
    if owed:
        await conn.execute(
            emails.insert(),
            [
                {
                    "id": new_sorted_id("eml_"),
                    "event_id": event_id,
                    "kind": k,
                    "to_address": to,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "locked_until": None,
                    "last_error": None,
                    "created_at": now,
                    "sent_at": None,
                }
                for k, to in owed
            ],
        )


@dataclass(frozen=True, slots=True)
class EmailClaim:
    id: str
    kind: str
    to_address: str
    attempts: int
    lease: datetime
    event_type: str
    data: Any
    app_name: str
    notice_language: str | None = None  # the app's choice for its merchant's notices


class EmailRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim_emails(self, lease_until: datetime, limit: int) -> list[EmailClaim]:
        attempts = await claim_due_rows(self.conn, emails, lease_until, limit)
        if not attempts:
            return []
        rows = (
            await self.conn.execute(
                select(emails, events.c.type, events.c.data, apps.c.name.label("app_name"), apps.c.notice_language)
                .join(events, events.c.id == emails.c.event_id)
                .join(apps, apps.c.id == events.c.app_id)
                .where(emails.c.id.in_(list(attempts)))
            )
        ).all()
        return [
            EmailClaim(r.id, r.kind, r.to_address, r.attempts, lease_until, r.type, r.data, r.app_name,
                       r.notice_language)
            for r in rows
        ]  # fmt: skip

    async def record_email(self, claim: EmailClaim, *, error: str | None, next_attempt_at: datetime | None) -> None:
        now = utcnow()
        status = "sent" if error is None else ("pending" if next_attempt_at is not None else "failed")
        await self.conn.execute(
            update(emails)
            .where(emails.c.id == claim.id, emails.c.locked_until == claim.lease)
            .values(
                status=status,
                locked_until=None,
                last_error=error,
                next_attempt_at=next_attempt_at or now,
                sent_at=now if error is None else None,
            )
        )
