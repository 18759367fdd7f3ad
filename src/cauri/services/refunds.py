"""Refunds (our extension): refund a successful payment in part or whole, hand the refund to the connector that
took the payment, apply the provider's outcome, reconcile refunds it went silent about.

A refund is created under a lock on its payment (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer
at a time), after reading what its earlier refunds set aside: of concurrent refunds that together exceed the
amount paid, exactly those that fit are created. Every later change goes through the refund's state machine
(a compare-and-set) with its event in the same transaction; a refund is handed to its connector only by the
caller that moved it from ``initiated`` to ``pending``, so it is sent once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta

from cauri.connectors.base import CallbackRejected, ProviderUnavailable, RefundOutcome, RefundRequest
from cauri.connectors.registry import ConnectorRegistry
from cauri.domain.apps import Scope
from cauri.domain.clock import iso, utcnow
from cauri.domain.errors import NotFound
from cauri.domain.payments import PaymentStatus
from cauri.domain.rates import debited_share
from cauri.domain.refunds import RefundRequest as ValidRefundRequest
from cauri.domain.refunds import RefundStatus, check_refund, refundable_left
from cauri.domain.representation import Refund, refund_object
from cauri.domain.text import storable
from cauri.services.callbacks import CallbackBase, as_callback_base
from cauri.services.idempotency import IdempotencyKey, StoredResponse, run_once
from cauri.services.runtime import UnitOfWork
from cauri.store.refunds import new_refund_row

__all__ = [
    "CallbackRejected",
    "apply_refund_outcome",
    "handle_refund_callback",
    "reconcile_refunds",
    "refund_payment",
    "send_refund",
]

log = logging.getLogger("cauri.refunds")
#: The failure a refund gets when its provider could not be reached at all (nothing was sent).
PROVIDER_UNREACHABLE = "The refund provider could not be reached."
#: The failure a refund gets when the connector that took its payment has no refunds (nothing was sent).
NOT_REFUNDED_BY_PROVIDER = "The provider that took this payment does not refund."


def refund_callback_url(base: CallbackBase | str, connector: str) -> str:
    """Where a connector's refund notifications arrive (its root: see ``services.callbacks``)."""
    return as_callback_base(base).refund(connector)


async def refund_payment(
    uow: UnitOfWork,
    connectors: ConnectorRegistry,
    scope: Scope,
    payment_id: str,
    request: ValidRefundRequest,
    render: Callable[[Refund], StoredResponse],
    idempotency: IdempotencyKey | None,
    callback_base: CallbackBase | str,
) -> StoredResponse:
    """Create a refund of ``request.amount`` (all that is left when None) of a successful payment, answering
    ``render(refund)``, then hand it to the connector that took the payment. Refused with 422 on ``status``
    (not paid) or on ``amount`` (beyond what is left); another app's payment is not found. With an idempotency
    key, an identical earlier request's answer is replayed and nothing is sent again."""
    created: list[str] = []

    async def work(tx: UnitOfWork) -> StoredResponse:
        created.clear()
        payment = await tx.payments.get(payment_id, scope, lock=True)  # refunds of one payment queue here
        earlier = [r._mapping for r in await tx.refunds.of_payment(payment_id)]
        left = refundable_left(payment.amount, earlier)
        amount = check_refund(PaymentStatus(payment.status), payment.amount, left, request.amount)
        attempt = await tx.refunds.paid_by(payment_id)
        if attempt is None:  # a success without the attempt that paid: nothing to refund through
            raise NotFound("The payment's successful attempt was not found; it cannot be refunded.")
        row = new_refund_row(payment, attempt, amount, request.reason, utcnow())
        await tx.refunds.add(row)
        created.append(row["id"])
        return render(refund_object(row, iso))

    stored = await run_once(uow, scope, idempotency, work)
    if not stored.replayed and created:
        await send_refund(uow, connectors, created[0], callback_base)
    return stored


async def send_refund(
    uow: UnitOfWork, connectors: ConnectorRegistry, refund_id: str, callback_base: CallbackBase | str
) -> bool:
    """Move an initiated refund to pending and hand it to its connector; False when another caller did. A
    provider that cannot be reached fails the refund (its amount can be refunded again); any other error leaves
    it pending, since the provider may have received it: the reconciliation job asks."""
    async with uow:
        row = await uow.refunds.move(refund_id, RefundStatus.PENDING)
        payment = await uow.payments.find(row.payment_id) if row is not None else None
        attempt = await uow.refunds.attempt(row.attempt_id) if row is not None else None
        await uow.commit()
    if row is None:
        return False
    connector = await connectors.by_name(row.connector)
    if connector is None or payment is None or attempt is None:
        log.error("refund without its connector; left to reconciliation", extra={"refund_id": refund_id})
        return True
    amount, currency = row.amount, row.currency
    if attempt.amount_debited is not None:
        # Paid in its method's currency: the provider gives back that currency, in the proportion refunded.
        amount = debited_share(row.amount, payment.amount, attempt.amount_debited)
        currency = attempt.currency_debited
    request = RefundRequest(row.id, amount, currency, attempt._mapping, payment._mapping)
    try:
        reference = await connector.refund(request, refund_callback_url(callback_base, connector.name))
    except ProviderUnavailable:
        log.warning("refund provider unavailable", extra={"refund_id": refund_id, "connector": connector.name})
        outcome = RefundOutcome(refund_id, RefundStatus.FAILED, "provider_unavailable", PROVIDER_UNREACHABLE)
        await apply_refund_outcome(uow, connector.name, outcome)
        return True
    except NotImplementedError:
        # A connector without refunds sent nothing: pending, the refund would hold its amount for good.
        log.error("connector does not refund", extra={"refund_id": refund_id, "connector": connector.name})
        outcome = RefundOutcome(refund_id, RefundStatus.FAILED, "refund_unsupported", NOT_REFUNDED_BY_PROVIDER)
        await apply_refund_outcome(uow, connector.name, outcome)
        return True
    except Exception:
        log.exception("connector refund failed; left to reconciliation", extra={"refund_id": refund_id})
        return True
    async with uow:
        await uow.refunds.record_reference(refund_id, reference)
        await uow.commit()
    return True


async def apply_refund_outcome(uow: UnitOfWork, connector: str, outcome: RefundOutcome) -> bool:
    """End a pending refund of ``connector`` once, with its event; False when nothing changed (a repeated or
    late notification, another connector's refund, or no final outcome yet)."""
    if outcome.status not in (RefundStatus.SUCCESS, RefundStatus.FAILED):
        return False
    async with uow:
        moved = await uow.refunds.move(
            outcome.refund_id,
            outcome.status,
            connector=connector,
            failure_code=outcome.failure_code,
            failure_message=outcome.failure_message,
        )
        if moved is None:
            return False
        await uow.commit()
    return True


async def handle_refund_callback(
    uow: UnitOfWork, connectors: ConnectorRegistry, name: str, body: bytes, headers: Mapping[str, str]
) -> bool:
    """A provider's refund notification: authenticated by its connector (``CallbackRejected`` otherwise),
    applied once. ``NotFound`` for a connector unknown or that does not refund."""
    connector = await connectors.by_name(name)
    if connector is None:
        raise NotFound("Unknown connector.")
    await connector.prepare_callback(headers)
    try:
        outcome = connector.parse_refund_callback(body, headers)
    except NotImplementedError as exc:
        raise NotFound("Unknown connector.") from exc
    if not storable(((outcome.refund_id, 100), (outcome.failure_code, 64), (outcome.failure_message, 1000))):
        raise CallbackRejected("malformed notification")
    return await apply_refund_outcome(uow, connector.name, outcome)


async def reconcile_refunds(
    uow: UnitOfWork,
    connectors: ConnectorRegistry,
    *,
    older_than: timedelta,
    lease: timedelta,
    callback_base: CallbackBase | str,
    limit: int = 100,
) -> int:
    """Refunds left open longer than ``older_than``: an initiated one (its process died before handing it
    over) is sent; a pending one's connector is asked and its answer applied. Claimed with a lease first, so
    no two workers do either at once. Returns how many changed."""
    now = utcnow()
    async with uow:
        claimed = await uow.refunds.claim_stale(now - older_than, now + lease, limit)
        payments = {row.payment_id: await uow.payments.find(row.payment_id) for row in claimed}
        await uow.commit()
    changed = 0
    for row in claimed:
        if row.status == RefundStatus.INITIATED:
            changed += await send_refund(uow, connectors, row.id, callback_base)
            continue
        connector = await connectors.by_name(row.connector)
        payment = payments.get(row.payment_id)
        if connector is None or payment is None:
            continue
        try:
            outcome = await connector.fetch_refund_status({**row._mapping, "payment": payment._mapping})
        except Exception:
            log.exception("refund status check failed", extra={"refund_id": row.id})
            continue
        if outcome.refund_id == row.id and await apply_refund_outcome(uow, connector.name, outcome):
            changed += 1
    return changed
