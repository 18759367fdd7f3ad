"""The outbox, in one place: an event and everything it owes (webhook deliveries, emails), written in the
transaction of the change that caused it. Dispatchers send from these rows once the transaction commits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.payments import new_sorted_id
from cauri.store.emails import insert_emails
from cauri.store.tables import events
from cauri.store.webhooks import insert_deliveries


async def insert_event(
    conn: AsyncConnection, payment: Mapping[Any, Any], kind: str, data: Mapping[str, Any], now: datetime
) -> str:
    """The event, its webhook deliveries and its emails, in the caller's transaction; returns the event's id."""
    event_id = new_sorted_id("evt_")
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
    return event_id


async def insert_payout_event(
    conn: AsyncConnection, payout: Mapping[Any, Any], kind: str, data: Mapping[str, Any], now: datetime
) -> str:
    """A payout's event and its webhook deliveries, in the caller's transaction (payouts owe no email: the
    merchant asked for them); returns the event's id."""
    event_id = new_sorted_id("evt_")
    await conn.execute(
        events.insert(),
        {
            "id": event_id,
            "app_id": payout["app_id"],
            "environment": payout["environment"],
            "type": kind,
            "payment_id": None,
            "payout_id": payout["id"],
            "data": data,
            "created_at": now,
        },
    )
    await insert_deliveries(conn, event_id, payout["app_id"], payout["environment"], kind, now)
    return event_id
