"""Payments for merchants' servers: initialize, verify (and retrieve), process, list."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cauri import metrics
from cauri.domain.apps import KeyOwner
from cauri.domain.clock import iso, utcnow
from cauri.domain.payment_request import PaymentRequest
from cauri.domain.payments import PaymentFilter
from cauri.domain.representation import Payment, app_object, payment_object
from cauri.services.idempotency import IdempotencyKey, StoredResponse, run_once
from cauri.services.runtime import UnitOfWork
from cauri.store.initialize import create_payment
from cauri.store.payments import NOT_FOUND, new_payment_row
from cauri.store.views import checkout_url

__all__ = ["NOT_FOUND", "PaymentPage", "initialize_payment", "list_payments", "process_payment", "verify_payment"]


async def initialize_payment(
    uow: UnitOfWork,
    owner: KeyOwner,
    request: PaymentRequest,
    render: Callable[[str, str], StoredResponse],
    idempotency: IdempotencyKey | None,
) -> StoredResponse:
    """Create the payment and its ``payment.initiated`` event, answering ``render(id, checkout_url)``; with an
    idempotency key, replay the answer an earlier identical request got. This is the hot path: the store
    writes it in a single statement where it can (its own transaction), not through ``async with uow``."""
    started = time.perf_counter()
    scope = owner.scope
    now = utcnow()
    row = new_payment_row(request, scope, now)
    url = checkout_url(uow.public_url, row["id"])
    stamp = iso(now)  # a new payment's timestamps are all ``now`` (but processed_at): formatted once

    def iso_now(moment: datetime | None) -> str | None:
        return stamp if moment is now else iso(moment)

    event_data = payment_object(row, app_object(owner.app, iso), checkout_url=url, iso=iso_now)
    stored = await create_payment(
        uow.engine,
        scope,
        row,
        event_data,
        render(row["id"], url),
        key=idempotency.key if idempotency else None,
        fingerprint=idempotency.fingerprint if idempotency else b"",
        ttl=idempotency.ttl if idempotency else timedelta(0),
    )
    metrics.observe_initialize(time.perf_counter() - started)
    return stored


async def verify_payment(uow: UnitOfWork, owner: KeyOwner, payment_id: str) -> Payment:
    """The payment object (Moneroo's verify shape); another app's or environment's payment is not found."""
    async with uow.reading():
        row = await uow.payments.get(payment_id, owner.scope)
        return (await uow.payment_views([row._mapping], app=owner.app))[0]


async def process_payment(
    uow: UnitOfWork,
    owner: KeyOwner,
    payment_id: str,
    render: Callable[[Payment], StoredResponse],
    idempotency: IdempotencyKey | None,
) -> StoredResponse:
    """Mark a paid payment as processed (the merchant delivered the order); repeating it changes nothing."""

    async def work(tx: UnitOfWork) -> StoredResponse:
        row = await tx.payments.mark_processed(payment_id, owner.scope)
        return render((await tx.payment_views([row._mapping], app=owner.app))[0])

    return await run_once(uow, owner.scope, idempotency, work)


@dataclass(frozen=True, slots=True)
class PaymentPage:
    payments: list[Payment]
    has_more: bool
    #: (created_at, id) of the page's last payment when another page follows.
    last: tuple[datetime, str] | None


async def list_payments(
    uow: UnitOfWork, owner: KeyOwner, where: PaymentFilter, *, limit: int, after: tuple[datetime, str] | None
) -> PaymentPage:
    """Newest first; ``after`` is the (created_at, id) of the last payment of the previous page."""
    async with uow.reading():
        rows = await uow.payments.page(owner.scope, where, limit=limit, after=after)
        page = rows[:limit]
        views = await uow.payment_views([r._mapping for r in page], app=owner.app)
    has_more = len(rows) > limit
    return PaymentPage(views, has_more, (page[-1].created_at, page[-1].id) if has_more and page else None)


async def purge_idempotency_keys(uow: UnitOfWork) -> int:
    """Delete the idempotency keys past their time (expired ones still block a new claim until then)."""
    async with uow:
        removed = await uow.idempotency.purge_expired()
        await uow.commit()
    return removed
