"""Refunds (our extension, in Moneroo's style): money of a successful payment sent back to its payer.

A refund is created ``initiated`` with its amount set aside from the payment (what is left to refund is the
amount paid less every refund not failed), becomes ``pending`` once handed to the connector that took the
payment, and ends ``success`` or ``failed`` when the provider says so. A failed refund gives its amount back:
it can be refunded again. Several partial refunds may follow one another, never beyond the amount paid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cauri.domain.errors import DomainError, FieldErrors, ValidationFailed
from cauri.domain.money import AmountError, parse_amount
from cauri.domain.payment_request import TEXT_MAX, _absent, _text
from cauri.domain.payments import PaymentStatus


class RefundStatus(StrEnum):
    INITIATED = "initiated"
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"


#: The only moves a refund can make; a final refund never changes again.
REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.INITIATED: frozenset({RefundStatus.PENDING}),
    RefundStatus.PENDING: frozenset({RefundStatus.SUCCESS, RefundStatus.FAILED}),
    RefundStatus.SUCCESS: frozenset(),
    RefundStatus.FAILED: frozenset(),
}

#: The event a refund emits when it ends; its body is the payment, whose ``refunds`` list shows the refund.
REFUND_EVENT_FOR_STATUS: dict[RefundStatus, str] = {
    RefundStatus.SUCCESS: "payment.refunded",
    RefundStatus.FAILED: "refund.failed",
}

#: A reason is one line of text, like a payment's other free texts.
REASON_MAX = TEXT_MAX


def refund_sources_of(target: RefundStatus) -> frozenset[RefundStatus]:
    """Every status from which ``target`` can be reached: the guard of a compare-and-set update."""
    return frozenset(s for s, targets in REFUND_TRANSITIONS.items() if target in targets)


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """A validated refund request; ``amount`` None refunds whatever is left."""

    amount: int | None
    reason: str | None


def validate_refund_request(body: dict[str, Any]) -> RefundRequest:
    """Check ``body`` (``amount`` optional, a whole positive amount; ``reason`` optional text) and return the
    request, or raise ``ValidationFailed`` naming every failing field."""
    errors = FieldErrors()
    amount: int | None = None
    if not _absent(body.get("amount")):
        try:
            amount = parse_amount(body["amount"])
        except AmountError as exc:
            errors.add("amount", f"The amount field {exc}.")
    reason: str | None = None
    if not _absent(body.get("reason")):
        reason = _text(body["reason"], "reason", errors, max_length=REASON_MAX)
    if errors:
        raise ValidationFailed(errors)
    return RefundRequest(amount=amount, reason=reason or None)


class RefundRefused(DomainError):
    """The payment cannot be refunded (not paid); 422 on ``status``, like processing an unpaid payment."""

    status = 422
    field = "status"


def refundable_left(amount_paid: int, refunds: Iterable[Mapping[Any, Any]]) -> int:
    """What is left to refund: the amount paid less every refund not failed (pending ones are set aside)."""
    taken = sum(int(r["amount"]) for r in refunds if r["status"] != RefundStatus.FAILED.value)
    return max(amount_paid - taken, 0)


def check_refund(status: PaymentStatus, amount_paid: int, left: int, asked: int | None) -> int:
    """The amount to refund (all that is left when ``asked`` is None), or the reason why not: only a
    successful payment is refunded, and never beyond what it paid."""
    if status is not PaymentStatus.SUCCESS:
        raise RefundRefused(f"Only a successful payment can be refunded; this one is {status.value}.")
    if left == 0:
        raise ValidationFailed(FieldErrors({"amount": [f"The payment's {amount_paid} has been refunded already."]}))
    if asked is None:
        return left
    if asked > left:
        message = f"The amount field must not be greater than what is left to refund ({left} of {amount_paid})."
        raise ValidationFailed(FieldErrors({"amount": [message]}))
    return asked
