"""Typed views of the API's objects; ``raw`` keeps the whole JSON for anything not modelled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InitializedPayment:
    id: str
    checkout_url: str


@dataclass(frozen=True)
class Balance:
    """One currency's balance (a Cauri extension): ``available = collected - refunded - paid_out``."""

    currency: str
    collected: int
    refunded: int
    paid_out: int
    available: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Balance:
        return cls(
            currency=data["currency"],
            collected=int(data["collected"]),
            refunded=int(data["refunded"]),
            paid_out=int(data["paid_out"]),
            available=int(data["available"]),
        )


@dataclass(frozen=True)
class Refund:
    """A refund of a payment (a Cauri extension). It ends asynchronously: wait for ``payment.refunded`` /
    ``refund.failed``, or read the payment's ``refunds``."""

    id: str
    amount: int
    status: str  # initiated, pending, success, failed
    reason: str | None
    failure_message: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Refund:
        return cls(
            id=data["id"],
            amount=int(data["amount"]),
            status=data["status"],
            reason=data.get("reason"),
            failure_message=data.get("failure_message"),
            raw=data,
        )


@dataclass(frozen=True)
class Payment:
    """The verify object. ``amount`` is an integer in the currency's main unit (200 = 200 XOF)."""

    id: str
    status: str  # initiated, pending, success, failed, cancelled
    amount: int
    currency: str
    description: str
    environment: str
    is_processed: bool
    metadata: dict[str, str]
    customer: dict[str, Any]
    capture: dict[str, Any] | None
    checkout_url: str | None
    #: Cauri's refunds (absent from Moneroo's answers: 0 and none).
    amount_refunded: int
    refunds: list[Refund]
    raw: dict[str, Any] = field(repr=False)

    @property
    def is_paid(self) -> bool:
        return self.status == "success"

    @property
    def amount_debited(self) -> tuple[int, str] | None:
        """Paid with a method in another currency: what the customer paid and its currency (``capture.metadata``);
        ``None`` when the method's currency is the payment's."""
        debited = ((self.capture or {}).get("metadata") or {}) if isinstance(self.capture, dict) else {}
        if not isinstance(debited, dict) or "amount_debited" not in debited:
            return None
        return int(debited["amount_debited"]), str(debited.get("currency_debited") or "")

    @property
    def rate(self) -> str | None:
        """The rate locked for a payment paid in another currency, as exact decimal text (``capture.rate``)."""
        rate = (self.capture or {}).get("rate") if isinstance(self.capture, dict) else None
        return str(rate) if rate is not None else None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Payment:
        currency = data.get("currency")
        return cls(
            id=data["id"],
            status=data["status"],
            amount=int(data["amount"]),
            currency=currency["code"] if isinstance(currency, dict) else str(currency),
            description=data.get("description") or "",
            environment=data.get("environment") or "",
            is_processed=bool(data.get("is_processed")),
            metadata=dict(data.get("metadata") or {}),
            customer=dict(data.get("customer") or {}),
            capture=data.get("capture"),
            checkout_url=data.get("checkout_url"),
            amount_refunded=int(data.get("amount_refunded") or 0),
            refunds=[Refund.from_json(r) for r in data.get("refunds") or []],
            raw=data,
        )


@dataclass(frozen=True)
class InitializedPayout:
    id: str


@dataclass(frozen=True)
class Payout:
    """The payout object. ``amount`` is an integer in the currency's main unit; the outcome comes
    asynchronously: verify it, or wait for ``payout.success`` / ``payout.failed``."""

    id: str
    status: str  # initiated, pending, success, failed
    amount: int
    currency: str
    description: str
    environment: str
    method: str
    recipient: dict[str, Any]  # {"msisdn": …} or {"account_number": …}
    metadata: dict[str, str]
    customer: dict[str, Any]
    failure_message: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def is_paid_out(self) -> bool:
        return self.status == "success"

    @property
    def is_final(self) -> bool:
        return self.status in ("success", "failed")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Payout:
        currency = data.get("currency")
        disburse = data.get("disburse") or {}
        method = disburse.get("method")
        return cls(
            id=data["id"],
            status=data["status"],
            amount=int(data["amount"]),
            currency=currency["code"] if isinstance(currency, dict) else str(currency),
            description=data.get("description") or "",
            environment=data.get("environment") or "",
            method=method["short_code"] if isinstance(method, dict) else str(method or ""),
            recipient=dict(disburse.get("recipient") or {}),
            metadata=dict(data.get("metadata") or {}),
            customer=dict(data.get("customer") or {}),
            failure_message=disburse.get("failure_message"),
            raw=data,
        )
