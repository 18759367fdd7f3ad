"""What the dashboard shows and does: payments searched and exported, one payment's story, and the actions on
it (resend its webhooks, refund, cancel, mark processed), each allowed by the user's role and written to the
audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cauri.connectors.registry import ConnectorRegistry
from cauri.domain.apps import App, Scope
from cauri.domain.clock import as_utc, utcnow
from cauri.domain.dashboard import PAGE_SIZE, PaymentSearch, decode_cursor, encode_cursor
from cauri.domain.errors import NotFound
from cauri.domain.messages import N_
from cauri.domain.payments import PaymentStatus
from cauri.domain.refunds import refundable_left, validate_refund_request
from cauri.domain.representation import Refund
from cauri.domain.users import Action, Forbidden, may
from cauri.services import checkout as checkout_service
from cauri.services import refunds as refund_service
from cauri.services import webhooks as webhook_service
from cauri.services.idempotency import StoredResponse
from cauri.services.runtime import UnitOfWork
from cauri.services.users import Session

#: What the dashboard says of a payment it may not show: the same as of one that does not exist.
NOT_FOUND = "Payment transaction not found."
CANCELLED_BY_MERCHANT = N_("Cancelled by the merchant.")


@dataclass(frozen=True, slots=True)
class PaymentLine:
    id: str
    created_at: datetime
    status: str
    amount: int
    currency: str
    customer_email: str
    description: str
    method: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PaymentList:
    lines: list[PaymentLine]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Try:
    at: datetime
    status_code: int | None
    latency_ms: int
    answer: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryStory:
    id: str
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime
    tries: list[Try]


@dataclass(frozen=True, slots=True)
class EmailStory:
    kind: str
    to: str
    status: str
    attempts: int
    error: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventStory:
    id: str
    type: str
    at: datetime
    deliveries: list[DeliveryStory]
    emails: list[EmailStory]


@dataclass(frozen=True, slots=True)
class AttemptStory:
    id: str
    at: datetime
    method: str
    connector: str
    status: str
    phone: str | None
    card_last4: str | None
    provider_reference: str | None
    failure_code: str | None
    failure_message: str | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class PaymentStory:
    payment: PaymentLine
    app: App
    environment: str
    customer: dict[str, Any]
    attempts: list[AttemptStory]
    events: list[EventStory]
    refunds: list[dict[str, Any]]
    refundable: int
    is_final: bool
    timeline: list[tuple[datetime, str, Any]] = field(default_factory=list)
    #: When the merchant marked the paid payment processed (its order delivered), None until then.
    processed_at: datetime | None = None


async def apps_of(uow: UnitOfWork, session: Session) -> list[App]:
    async with uow.reading():
        return await uow.dashboard.apps(session.app_ids)


def _app_of(session: Session, app_id: str) -> str:
    if app_id not in session.app_ids:
        raise NotFound("App not found.")
    return app_id


def _line(row: Any, method: str | None) -> PaymentLine:
    return PaymentLine(row.id, as_utc(row.created_at), row.status, row.amount, row.currency, row.customer_email,
                       row.description, method, dict(row.metadata or {}))  # fmt: skip


async def search_payments(
    uow: UnitOfWork, session: Session, app_id: str, search: PaymentSearch, cursor: str | None, *, limit: int = PAGE_SIZE
) -> PaymentList:
    """A page of the app's payments, newest first; ``cursor`` (from the previous page) continues after it.
    A cursor this server did not make starts from the top."""
    _app_of(session, app_id)
    after = decode_cursor(cursor) if cursor else None
    async with uow.reading():
        rows = await uow.dashboard.search(app_id, search, limit=limit + 1, after=after)
    page = rows[:limit]
    lines = [_line(r, r.method) for r in page]
    more = len(rows) > limit and bool(page)
    return PaymentList(lines, encode_cursor(lines[-1].created_at, lines[-1].id) if more else None)


async def export_payments(
    uow: UnitOfWork, session: Session, app_id: str, search: PaymentSearch, *, batch: int = 500
) -> AsyncIterator[list[PaymentLine]]:
    """Every payment the search finds, a batch at a time (each read on its own short connection)."""
    cursor: str | None = None
    while True:
        page = await search_payments(uow, session, app_id, search, cursor, limit=batch)
        if page.lines:
            yield page.lines
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _visible_payment(uow: UnitOfWork, session: Session, payment_id: str, *, lock: bool = False) -> Any:
    row = await uow.payments.find(payment_id, lock=lock)
    if row is None or row.app_id not in session.app_ids:
        raise NotFound(NOT_FOUND)
    return row


async def payment_story(uow: UnitOfWork, session: Session, payment_id: str) -> PaymentStory:
    """The payment and everything that happened to it: attempts, events, each webhook delivery's tries, the
    emails sent, refunds."""
    async with uow.reading():
        row = await _visible_payment(uow, session, payment_id)
        app = await uow.apps.get(row.app_id)
        attempt_rows = await uow.dashboard.attempts(payment_id)
        event_rows = await uow.dashboard.events(payment_id)
        event_ids = [e.id for e in event_rows]
        delivery_rows = await uow.dashboard.deliveries(event_ids) if event_ids else []
        try_rows = await uow.dashboard.tries([d.id for d in delivery_rows]) if delivery_rows else []
        email_rows = await uow.dashboard.emails(event_ids) if event_ids else []
        refund_rows = [r._mapping for r in await uow.refunds.of_payment(payment_id)]
    tries: dict[str, list[Try]] = {}
    for t in try_rows:
        tries.setdefault(t.delivery_id, []).append(
            Try(as_utc(t.attempted_at), t.status_code, t.latency_ms, t.response_excerpt, t.error)
        )
    by_event: dict[str, list[DeliveryStory]] = {}
    for d in delivery_rows:
        by_event.setdefault(d.event_id, []).append(
            DeliveryStory(d.id, d.url, d.status, d.attempts, as_utc(d.next_attempt_at), tries.get(d.id, []))
        )
    mails: dict[str, list[EmailStory]] = {}
    for m in email_rows:
        mails.setdefault(m.event_id, []).append(EmailStory(m.kind, m.to_address, m.status, m.attempts, m.last_error,
                                                           as_utc(m.sent_at) if m.sent_at else None))  # fmt: skip
    attempts = [
        AttemptStory(
            a.id,
            as_utc(a.created_at),
            a.method,
            a.connector,
            a.status,
            a.phone,
            a.card_last4,
            a.provider_reference,
            a.failure_code,
            a.failure_message,
            as_utc(a.completed_at) if a.completed_at else None,
        )
        for a in attempt_rows
    ]
    stories = [EventStory(e.id, e.type, as_utc(e.created_at), by_event.get(e.id, []), mails.get(e.id, []))
               for e in event_rows]  # fmt: skip
    success = next((a.method for a in attempts if a.status == "success"), None)
    line = _line(row, success or (attempts[-1].method if attempts else None))
    timeline: list[tuple[datetime, str, Any]] = [(as_utc(row.initiated_at), "initialized", None)]
    timeline += [(a.at, "attempt", a) for a in attempts]
    timeline += [(e.at, "event", e) for e in stories]
    processed_at = as_utc(row.processed_at) if row.is_processed and row.processed_at else None
    if processed_at is not None:
        timeline.append((processed_at, "processed", None))
    timeline.sort(key=lambda item: item[0])
    status = PaymentStatus(row.status)
    return PaymentStory(
        payment=line,
        app=app,
        environment=row.environment,
        customer=dict(row.customer or {}),
        attempts=attempts,
        events=stories,
        refunds=[dict(r) for r in refund_rows],
        refundable=refundable_left(row.amount, refund_rows) if status is PaymentStatus.SUCCESS else 0,
        is_final=status.is_final,
        timeline=timeline,
        processed_at=processed_at,
    )


def _allow(session: Session, action: Action) -> None:
    if not may(session.role, action):
        raise Forbidden("Your role does not allow this.")


async def _audit(uow: UnitOfWork, session: Session, action: str, row: Any, details: dict[str, Any]) -> None:
    async with uow:
        await uow.audit.record(user_id=session.user_id, actor=session.email, action=action, app_id=row.app_id,
                               target=row.id, details=details, now=utcnow())  # fmt: skip
        await uow.commit()


async def resend_webhook(uow: UnitOfWork, session: Session, payment_id: str, event_id: str) -> int:
    """Send one of the payment's events again to its endpoints; returns how many deliveries are due."""
    _allow(session, Action.RESEND_WEBHOOK)
    async with uow.reading():
        row = await _visible_payment(uow, session, payment_id)
        if event_id not in {e.id for e in await uow.dashboard.events(payment_id)}:
            raise NotFound("Event not found.")
    due = await webhook_service.resend_event(uow, Scope(row.app_id, row.environment), event_id)
    await _audit(uow, session, "webhook.resent", row, {"payment_id": payment_id, "event_id": event_id, "due": due})
    return due


async def cancel(uow: UnitOfWork, session: Session, payment_id: str) -> None:
    """Cancel an unpaid payment (``TransitionRefused`` once it has ended)."""
    _allow(session, Action.CANCEL)
    async with uow.reading():
        row = await _visible_payment(uow, session, payment_id)
    await checkout_service.cancel_payment(uow, payment_id, CANCELLED_BY_MERCHANT)
    await _audit(uow, session, "payment.cancelled", row, {"payment_id": payment_id})


async def refund(
    uow: UnitOfWork,
    connectors: ConnectorRegistry,
    session: Session,
    payment_id: str,
    amount: str,
    reason: str,
    callback_base: str,
) -> str:
    """Refund ``amount`` as typed (all that is left when blank) of a successful payment, checked by the API's
    own rules (``ValidationFailed`` names the field); returns the refund's id."""
    _allow(session, Action.REFUND)
    amount = amount.strip()
    body: dict[str, Any] = {"reason": reason.strip() or None}
    if amount:
        body["amount"] = int(amount) if amount.isascii() and amount.isdigit() and len(amount) < 19 else amount
    request = validate_refund_request(body)
    async with uow.reading():
        row = await _visible_payment(uow, session, payment_id)
    made: list[Refund] = []

    def render(refund_object: Refund) -> StoredResponse:
        made.append(refund_object)
        return StoredResponse(201, b"")

    scope = Scope(row.app_id, row.environment)
    await refund_service.refund_payment(uow, connectors, scope, payment_id, request, render,
                                        None, callback_base)  # fmt: skip
    refund_id = str(made[0]["id"]) if made else ""
    details = {"payment_id": payment_id, "refund_id": refund_id, "amount": request.amount, "reason": request.reason}
    await _audit(uow, session, "payment.refunded", row, details)
    return refund_id


async def mark_processed(uow: UnitOfWork, session: Session, payment_id: str) -> bool:
    """Record that a paid payment's order was delivered, as ``POST /v1/payments/{id}/process`` does; True when
    this marked it, False when it already was (nothing changes, nothing is recorded). ``ProcessRefused`` unless
    the payment succeeded. The change and its audit entry commit together."""
    if not may(session.role, Action.MARK_PROCESSED):
        raise Forbidden("Your role does not allow this.")
    async with uow:
        # Read under the row's lock: of two clicks at once, the second finds it processed and records nothing.
        row = await _visible_payment(uow, session, payment_id, lock=True)
        if row.is_processed:
            return False
        await uow.payments.mark_processed(payment_id, Scope(row.app_id, row.environment))
        await uow.audit.record(user_id=session.user_id, actor=session.email, action="payment.processed",
                               app_id=row.app_id, target=row.id, details={"payment_id": payment_id},
                               now=utcnow())  # fmt: skip
        await uow.commit()
    return True
