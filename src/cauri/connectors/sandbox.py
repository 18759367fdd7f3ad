"""The sandbox connector: behaves like a real provider, with outcomes chosen by test numbers.

Asynchronous like a real one: ``start`` only accepts the attempt; the outcome arrives a moment later as a
signed HTTP notification to ``/connectors/sandbox/callback``, the route a real provider's notification takes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import zlib
from collections.abc import Coroutine, Mapping
from typing import Any

import httpx
import orjson

from cauri.connectors.base import (
    ActionKind,
    AttemptRequest,
    CallbackRejected,
    Connector,
    NextAction,
    Outcome,
    PayoutOutcome,
    PayoutRequest,
    RefundOutcome,
    RefundRequest,
    Started,
)
from cauri.domain.attempts import AttemptStatus
from cauri.domain.messages import N_
from cauri.domain.methods import PHONE_KINDS, MethodKind
from cauri.domain.payouts import PayoutStatus
from cauri.domain.refunds import RefundStatus
from cauri.domain.sandbox import INVALID_TEST_PAYOUT, TEST_CARDS, TEST_PAYOUT_NUMBERS, TEST_PHONES, TEST_REFUND_NUMBERS

log = logging.getLogger("cauri.connectors.sandbox")

SIGNATURE_HEADER = "x-sandbox-signature"


def phone_outcome(phone: str | None) -> tuple[AttemptStatus, str | None]:
    """Test numbers decide; any other number succeeds, so a developer's own number works too."""
    digits = "".join(c for c in phone or "" if c.isdigit())
    return TEST_PHONES.get(digits[-10:], (AttemptStatus.SUCCESS, None))


def ussd_code(reference: str) -> str:
    """A code a phone's keypad can dial: digits only (a reference's letters cannot be typed), six of them taken
    from the reference so that each attempt has its own."""
    return f"*880*{zlib.crc32(reference.encode()) % 1_000_000:06d}#"


def card_outcome(number: str | None) -> tuple[AttemptStatus, str | None]:
    digits = "".join(c for c in number or "" if c.isdigit())
    return TEST_CARDS.get(digits, (AttemptStatus.FAILED, N_("Unknown test card: use one of the sandbox cards.")))


def payout_outcome(recipient: Mapping[str, str]) -> tuple[PayoutStatus, str | None]:
    """Moneroo's test numbers decide (the recipient's last ten digits); any other number fails, as on
    Moneroo's sandbox."""
    number = recipient.get("msisdn") or recipient.get("account_number") or ""
    return TEST_PAYOUT_NUMBERS.get(number[-10:], (PayoutStatus.FAILED, INVALID_TEST_PAYOUT))


def refund_outcome(payment: Mapping[Any, Any]) -> tuple[RefundStatus, str | None]:
    """The test numbers decide, by the payment's ``customer.phone``; any other number (or none) refunds."""
    phone = (payment.get("customer") or {}).get("phone") or ""
    digits = "".join(c for c in phone if c.isdigit())
    return TEST_REFUND_NUMBERS.get(digits[-10:], (RefundStatus.SUCCESS, None))


class SandboxConnector(Connector):
    name = "sandbox"

    def __init__(self, secret: bytes, delay_seconds: float) -> None:
        self._secret = secret
        self._delay = delay_seconds
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, request: AttemptRequest, callback_url: str) -> Started:
        kind = request.method.kind
        reference = "sbx_" + request.attempt_id.removeprefix("att_")
        if kind is MethodKind.CARD:
            # Decided now, while the number is in memory; only the verdict is kept, never the number.
            status, reason = card_outcome(request.card_number)
            verdict = {"sandbox_status": status.value, "sandbox_reason": reason or ""}
            return Started(reference, NextAction(ActionKind.AUTHENTICATE, verdict))
        if kind in PHONE_KINDS:
            status, reason = phone_outcome(request.phone)
            action = (
                NextAction(ActionKind.INSTRUCTIONS, {"ussd_code": ussd_code(reference)})
                if kind is MethodKind.USSD
                else NextAction(ActionKind.CONFIRM_ON_PHONE, {"phone": request.phone or ""})
            )
        else:
            status, reason = AttemptStatus.SUCCESS, None
            action = NextAction(ActionKind.INSTRUCTIONS, self._instructions(kind, reference))
        self._notify_later(callback_url, Outcome(request.attempt_id, status, _code(status), reason))
        return Started(reference, action)

    async def confirm_authentication(self, attempt: Mapping[Any, Any], approved: bool, callback_url: str) -> None:
        if not approved:
            outcome = Outcome(attempt["id"], AttemptStatus.FAILED, "authentication_failed",
                              N_("The card's authentication failed."))  # fmt: skip
        else:
            verdict = attempt.get("next_action") or {}
            status = AttemptStatus(verdict.get("data", {}).get("sandbox_status", AttemptStatus.FAILED.value))
            reason = verdict.get("data", {}).get("sandbox_reason") or None
            outcome = Outcome(attempt["id"], status, _code(status), reason)
        self._notify_later(callback_url, outcome)

    def _signed(self, body: bytes, headers: Mapping[str, str]) -> Any:
        """The notification's JSON once its signature is checked (``CallbackRejected`` otherwise); a
        ``ValueError`` when it is not JSON, for the caller's "malformed" answer."""
        expected = self.sign(body)
        if not hmac.compare_digest(expected.encode(), headers.get(SIGNATURE_HEADER, "").encode("utf-8", "replace")):
            raise CallbackRejected("bad signature")
        return orjson.loads(body)  # orjson.JSONDecodeError is a ValueError

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        try:
            data = self._signed(body, headers)
            return Outcome(
                attempt_id=str(data["attempt_id"]),
                status=AttemptStatus(data["status"]),
                failure_code=data.get("failure_code"),
                failure_message=data.get("failure_message"),
            )
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise CallbackRejected("malformed notification") from exc

    async def fetch_status(self, attempt: Mapping[Any, Any]) -> Outcome:
        """What the sandbox "provider" knows: the outcome the test number implies."""
        if attempt.get("card_last4") is not None:
            return Outcome(attempt["id"], AttemptStatus.PENDING)  # waits for the customer's authentication
        status, reason = phone_outcome(attempt.get("phone")) if attempt.get("phone") else (AttemptStatus.SUCCESS, None)
        return Outcome(attempt["id"], status, _code(status), reason)

    async def payout(self, request: PayoutRequest, callback_url: str) -> str:
        """Accept the payout; its outcome is notified after the sandbox's delay (never, for the number that
        stays pending), like a real provider's."""
        status, reason = payout_outcome(request.recipient)
        if status is not PayoutStatus.PENDING:
            body = orjson.dumps(
                {
                    "kind": "payout",
                    "payout_id": request.payout_id,
                    "status": status.value,
                    "failure_code": _payout_code(status),
                    "failure_message": reason,
                }
            )
            self._later(self._post(callback_url, body, request.payout_id))
        return "sbx_" + request.payout_id.removeprefix("po_")

    def parse_payout_callback(self, body: bytes, headers: Mapping[str, str]) -> PayoutOutcome:
        try:
            data = self._signed(body, headers)
            if data["kind"] != "payout":
                raise ValueError("not a payout notification")
            return PayoutOutcome(
                payout_id=str(data["payout_id"]),
                status=PayoutStatus(data["status"]),
                failure_code=data.get("failure_code"),
                failure_message=data.get("failure_message"),
            )
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise CallbackRejected("malformed notification") from exc

    async def fetch_payout_status(self, payout: Mapping[Any, Any]) -> PayoutOutcome:
        """What the sandbox "provider" knows: the outcome the test number implies."""
        status, reason = payout_outcome(payout["recipient"])
        return PayoutOutcome(payout["id"], status, _payout_code(status), reason)

    async def refund(self, request: RefundRequest, callback_url: str) -> str:
        """Accept the refund; its outcome is notified after the sandbox's delay (never, for the number that
        stays pending)."""
        status, reason = refund_outcome(request.payment)
        if status is not RefundStatus.PENDING:
            body = orjson.dumps(
                {
                    "kind": "refund",
                    "refund_id": request.refund_id,
                    "status": status.value,
                    "failure_code": _refund_code(status),
                    "failure_message": reason,
                }
            )
            self._later(self._post(callback_url, body, request.refund_id))
        return "sbx_" + request.refund_id.removeprefix("rf_")

    def parse_refund_callback(self, body: bytes, headers: Mapping[str, str]) -> RefundOutcome:
        try:
            data = self._signed(body, headers)
            if data["kind"] != "refund":
                raise ValueError("not a refund notification")
            return RefundOutcome(
                refund_id=str(data["refund_id"]),
                status=RefundStatus(data["status"]),
                failure_code=data.get("failure_code"),
                failure_message=data.get("failure_message"),
            )
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise CallbackRejected("malformed notification") from exc

    async def fetch_refund_status(self, refund: Mapping[Any, Any]) -> RefundOutcome:
        """What the sandbox "provider" knows: the outcome the payment's test number implies."""
        status, reason = refund_outcome(refund["payment"])
        return RefundOutcome(refund["id"], status, _refund_code(status), reason)

    def _later(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, callback_url: str, body: bytes, subject: str) -> None:
        await asyncio.sleep(self._delay)
        try:
            async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
                await client.post(callback_url, content=body, headers={SIGNATURE_HEADER: self.sign(body)})
        except httpx.HTTPError:
            # The reconciliation job asks fetch_payout_status later, as it would a silent real provider.
            log.warning("sandbox notification failed", extra={"subject": subject})

    def sign(self, body: bytes) -> str:
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def _instructions(self, kind: MethodKind, reference: str) -> dict[str, str]:
        code = reference[-8:].upper()
        if kind is MethodKind.BANK_TRANSFER:
            return {"bank": "Cauri Sandbox Bank", "account_number": "0123456789", "reference": code}
        if kind is MethodKind.QR:
            return {"qr_payload": f"cauri-sandbox:{reference}", "reference": code}
        return {"reference": code}

    def _notify_later(self, callback_url: str, outcome: Outcome) -> None:
        if outcome.status is AttemptStatus.PENDING:
            return  # "stays pending": the provider never answers
        task = asyncio.create_task(self._notify(callback_url, outcome))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, callback_url: str, outcome: Outcome) -> None:
        await asyncio.sleep(self._delay)
        body = orjson.dumps(
            {
                "attempt_id": outcome.attempt_id,
                "status": outcome.status.value,
                "failure_code": outcome.failure_code,
                "failure_message": outcome.failure_message,
            }
        )
        try:
            async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
                await client.post(callback_url, content=body, headers={SIGNATURE_HEADER: self.sign(body)})
        except httpx.HTTPError:
            # The reconciliation job asks fetch_status later, as it would a silent real provider.
            log.warning("sandbox notification failed", extra={"attempt_id": outcome.attempt_id})


def _code(status: AttemptStatus) -> str | None:
    return "declined" if status is AttemptStatus.FAILED else None


def _payout_code(status: PayoutStatus) -> str | None:
    return "payout_failed" if status is PayoutStatus.FAILED else None


def _refund_code(status: RefundStatus) -> str | None:
    return "refund_failed" if status is RefundStatus.FAILED else None
