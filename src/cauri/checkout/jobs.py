"""Background work of the checkout: cancel expired payments, and ask connectors about silent attempts."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.registry import ConnectorRegistry
from cauri.domain.payments import TransitionRefused
from cauri.settings import Settings
from cauri.store import attempts as store
from cauri.store.clock import utcnow
from cauri.store.views import event_body

log = logging.getLogger("cauri.checkout.jobs")


async def expire_payments(engine: AsyncEngine, public_url: str) -> int:
    cancelled = 0
    for payment_id in await store.expired_payment_ids(engine, utcnow()):
        try:
            await store.cancel_payment(engine, payment_id, "Expired.", event_body(public_url))
            cancelled += 1
        except TransitionRefused:
            pass  # paid or cancelled meanwhile
    return cancelled


async def reconcile(engine: AsyncEngine, registry: ConnectorRegistry, settings: Settings) -> int:
    """Attempts pending longer than ``reconcile_after_seconds``: ask their connector, apply what it says."""
    applied = 0
    older_than = utcnow() - timedelta(seconds=settings.reconcile_after_seconds)
    for attempt in await store.stale_attempts(engine, older_than):
        connector = registry.by_name(attempt.connector)
        if connector is None:
            continue
        outcome = await connector.fetch_status(attempt._mapping)
        if await store.finish_attempt(engine, attempt.id, outcome.status, outcome.failure_code,
                                      outcome.failure_message, event_body(settings.resolved_public_url)):  # fmt: skip
            applied += 1
    return applied


async def run_forever(engine: AsyncEngine, registry: ConnectorRegistry, settings: Settings) -> None:
    while True:
        try:
            await expire_payments(engine, settings.resolved_public_url)
            await reconcile(engine, registry, settings)
        except Exception:
            log.exception("checkout jobs failed")
        await asyncio.sleep(settings.reconcile_every_seconds)
