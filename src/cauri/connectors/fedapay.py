"""FedaPay: mobile money (and cards, on FedaPay's hosted page) in UEMOA countries, and payouts.

Written from FedaPay's public documentation and its official SDKs:

- docs.fedapay.com, "Sending requests" (integration-api/en/sending-requests): the two hosts, sandbox
  ``https://sandbox-api.fedapay.com`` and live ``https://api.fedapay.com``, each with its own keys, and
  ``Authorization: Bearer <secret key>``; the API version in the path (``/v1``).
- docs.fedapay.com, "Collects management" and the API reference (api-reference/transactions/create,
  get-by-id, send-payment): ``POST /v1/transactions`` (``description``, integer ``amount``, ``currency.iso``,
  ``callback_url``, ``customer``, ``merchant_reference``, ``custom_metadata``), answered as
  ``{"v1/transaction": {...}}``; ``POST /v1/transactions/{id}/token`` for the payment token and the hosted
  page's ``url``; ``GET /v1/transactions/{id}``.
- fedapay/fedapay-php ``lib/Transaction.php`` and fedapay/fedapay-node ``src/Transaction.ts``: "send now"
  is ``POST /v1/{mode}`` with ``token`` and ``phone_number`` (the customer approves on the handset), the
  mobile money modes (``AVAILABLE_MOBILE_MONEY``) and the paid statuses (``PAID_STATUS``). The API
  reference's page for it shows ``/transactions/{mode}``; both SDKs post to ``/{mode}``, which we follow.
- docs.fedapay.com, "Payouts management" and api-reference/payouts/update-start, with fedapay-php
  ``lib/Payout.php``: ``POST /v1/payouts`` then ``PUT /v1/payouts/start`` with
  ``{"payouts": [{"id": …, "phone_number": …}]}`` (send now, the SDK's wrapping of the reference's bare
  array); statuses ``pending``, ``sent``, ``failed``.
- docs.fedapay.com, "Webhooks" (development/webhooks, integration-api/en/webhooks): events such as
  ``transaction.approved``, ``transaction.declined``, ``transaction.canceled``, ``transaction.transferred``,
  posted as ``{"name": …, "object": …, "entity": {...}}``; and fedapay-php ``lib/WebhookSignature.php`` /
  fedapay-node ``src/Webhook.ts``: header ``X-FEDAPAY-SIGNATURE: t=<unix seconds>,s=<hex>``, the signature
  an HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the *webhook's own secret* (not the API key), a
  tolerance of 300 s. We refuse a timestamp too far in the future as well as too old (the Node SDK checks
  only the past).

What FedaPay does not offer, and what follows from it:

- No idempotency key on any call. A create is therefore never retried; Cauri's attempt id travels as the
  transaction's ``merchant_reference`` (and in ``custom_metadata``), which FedaPay echoes back in every
  webhook, and ``fetch_status`` finds a transaction whose id was never recorded (a timeout after FedaPay
  accepted it) through the documented search, keeping only an exact ``merchant_reference`` match.
- No refund endpoint in the API reference or the SDKs: refunds are left unimplemented (the gateway then
  refuses refunds of FedaPay payments as it does for any connector without them).
- Webhooks are configured per account on FedaPay's dashboard, not per request: the operator points one at
  ``/connectors/{account id}/callback`` (its secret is ``webhook_secret``), which takes every event: payout
  events there are applied to their payouts (``parse_notification``). A separate payout webhook at
  ``/connectors/{account id}/payouts/callback`` also works (its secret is ``payout_webhook_secret`` when given,
  else ``webhook_secret``). The ``callback_url`` arguments of
  ``start`` and ``payout`` are therefore not sent to FedaPay; the transaction's own ``callback_url`` (where
  FedaPay's page sends the customer after paying) is the attempt's ``return_url``, the public checkout page.
- No published sandbox test numbers that we could find: the simulator (``tests/providers``) states its own.

Nothing here logs the secret key or a webhook secret; errors are logged with ids only.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx
import orjson

from cauri.connectors.answers import bounded_request
from cauri.connectors.base import (
    ActionKind,
    AttemptRequest,
    CallbackRejected,
    CredentialsRefused,
    NextAction,
    Notification,
    Outcome,
    PayoutOutcome,
    PayoutRequest,
    ProviderAccount,
    ProviderConnector,
    ProviderUnavailable,
    RequestRefused,
    Started,
)
from cauri.domain.attempts import AttemptStatus
from cauri.domain.messages import N_
from cauri.domain.methods import MethodKind
from cauri.domain.payouts import PayoutStatus

SANDBOX_BASE = "https://sandbox-api.fedapay.com"
LIVE_BASE = "https://api.fedapay.com"
API_VERSION = "v1"
SIGNATURE_HEADER = "x-fedapay-signature"
#: The SDKs' ``DEFAULT_TOLERANCE``: a notification signed longer ago (or further ahead) is refused.
TOLERANCE_SECONDS = 300
TIMEOUT = httpx.Timeout(15.0, connect=5.0)

#: Catalogue method -> (FedaPay mode, the phone number's country), from the SDKs' mobile money modes.
MOBILE_MODES: dict[str, tuple[str, str]] = {
    "mtn_bj": ("mtn_open", "bj"),
    "moov_bj": ("moov", "bj"),
    "mtn_ci": ("mtn_open_ci", "ci"),
    "moov_tg": ("moov_tg", "tg"),
    "togocel": ("togocel", "tg"),
    "airtel_ne": ("airtel_ne", "ne"),
    "freemoney_sn": ("free_sn", "sn"),
}
#: Cards are paid on FedaPay's own page (the token's ``url``): Cauri never sees the number.
CARD_METHODS = frozenset({"card_xof"})
#: Payout method -> (FedaPay mode, country); the collect modes FedaPay also pays out to.
PAYOUT_MODES: dict[str, tuple[str, str]] = {
    code: MOBILE_MODES[code] for code in ("mtn_bj", "moov_bj", "mtn_ci", "moov_tg", "togocel", "freemoney_sn")
}

#: The SDKs' ``PAID_STATUS``: a refunded or transferred transaction was paid first.
PAID = frozenset(
    {"approved", "transferred", "refunded", "approved_partially_refunded", "transferred_partially_refunded"}
)
#: Final statuses without money (the webhooks' ``transaction.declined``/``canceled``; ``expired`` unanswered).
UNPAID: dict[str, str] = {
    "declined": N_("The customer declined the payment on their phone."),
    "canceled": N_("A payment attempt failed."),
    "expired": N_("A payment attempt failed."),
}


class FedapayConnector(ProviderConnector):
    provider = "fedapay"
    credential_fields = ("secret_key", "webhook_secret")
    optional_credentials = ("payout_webhook_secret",)  # a separate payout webhook's, when there is one
    payment_methods = frozenset(MOBILE_MODES) | CARD_METHODS
    payout_methods = frozenset(PAYOUT_MODES)

    def __init__(self, account: ProviderAccount, http: httpx.AsyncClient | None = None) -> None:
        """``http``: a shared client whose timeouts apply to every call; else one with ``TIMEOUT``."""
        super().__init__(account, http)
        root = account.base_url or (SANDBOX_BASE if account.sandbox else LIVE_BASE)
        self._root = f"{root.rstrip('/')}/{API_VERSION}"
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)

    # -- requests -------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.account.credentials['secret_key']}",
            "Accept": "application/json",
            "X-FedaPay-Api-Version": API_VERSION,
        }

    async def _call(self, method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None) -> Any:
        """One request; its JSON on 2xx. ``httpx.ConnectError``/``ConnectTimeout`` (nothing sent), other
        ``httpx.HTTPError`` (perhaps received) and ``FedapayRefused`` (a 4xx: received and refused) and
        ``FedapayFailed`` (5xx) are left to the caller, who alone knows whether the call may have acted."""
        response = await bounded_request(
            self._http,
            method,
            self._root + path,
            content=None if body is None else orjson.dumps(body),
            params=params,
            headers={**self._headers(), **({"Content-Type": "application/json"} if body is not None else {})},
        )
        if response.status_code >= 500:
            raise FedapayFailed(response.status_code)
        if response.status_code >= 400:
            raise FedapayRefused(response.status_code, _message(response))
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise FedapayFailed(response.status_code) from exc

    # -- payments -------------------------------------------------------------------------------------------

    async def start(self, request: AttemptRequest, callback_url: str) -> Started:
        code = request.method.code
        if code not in self.payment_methods:
            raise RequestRefused(f"fedapay does not serve {code}")
        created = await self._create_transaction(request)
        transaction_id = str(created["id"])
        try:
            token = await self._call("POST", f"/transactions/{transaction_id}/token", {})
            if not isinstance(token, dict) or not isinstance(token.get("token"), str):
                raise FedapayFailed(200)
        except (httpx.HTTPError, FedapayError) as exc:
            # Only a token was asked for: no one holds it, so no money can move on this transaction.
            raise ProviderUnavailable("fedapay token") from exc
        if request.method.kind is MethodKind.CARD or code in CARD_METHODS:
            url = str(token.get("url") or "")
            if not url.startswith("https://"):
                raise ProviderUnavailable("fedapay gave no https payment page")
            return Started(transaction_id, NextAction(ActionKind.REDIRECT, {"url": url}))
        mode, country = MOBILE_MODES[code]
        # The documented way to name the payer: the number travels with "send now", not as a customer (whose
        # creation wants a name and an email the checkout does not ask for).
        body = {"token": token["token"], "phone_number": _phone(request.phone, country)}
        try:
            await self._call("POST", f"/{mode}", body)
        except (httpx.ConnectError, httpx.ConnectTimeout, FedapayRefused) as exc:
            # Not sent, or refused outright (a number the operator rejects): nothing was asked of the customer.
            raise _not_taken(exc, "fedapay send now") from exc
        # A timeout or a 5xx here is ambiguous (the push may be on the handset): it propagates, the attempt
        # stays pending, and the webhook or fetch_status (by merchant_reference) settles it.
        return Started(transaction_id, NextAction(ActionKind.CONFIRM_ON_PHONE, {"phone": request.phone or ""}))

    async def _create_transaction(self, request: AttemptRequest) -> Mapping[str, Any]:
        body: dict[str, Any] = {
            "description": f"Payment {request.payment_id}",
            "amount": request.amount,
            "currency": {"iso": request.currency},
            "merchant_reference": request.attempt_id,
            "custom_metadata": {"attempt_id": request.attempt_id, "payment_id": request.payment_id},
        }
        if request.method.code in MOBILE_MODES:
            body["mode"] = MOBILE_MODES[request.method.code][0]
        if request.return_url:  # where FedaPay's page sends the customer after paying: the checkout page
            body["callback_url"] = request.return_url
        try:
            answer = await self._call("POST", "/transactions", body)
        except (httpx.ConnectError, httpx.ConnectTimeout, FedapayRefused) as exc:
            # Never reached FedaPay, or refused by it: no transaction exists.
            raise _not_taken(exc, "fedapay create") from exc
        # A read timeout or a 5xx propagates and is never retried (FedaPay has no idempotency key): the
        # transaction may exist, and reconciliation finds it by merchant_reference.
        return _entity(answer, "transaction")

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        """One webhook (its secret ``webhook_secret``) may carry every event: payouts' are applied to payouts."""
        event = self._verified(body, headers, self.account.credentials["webhook_secret"])
        if event.get("object") == "payout":
            return _payout_event_outcome(event)
        return _transaction_event_outcome(event)

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        return _transaction_event_outcome(self._verified(body, headers, self.account.credentials["webhook_secret"]))

    async def fetch_status(self, attempt: Mapping[Any, Any]) -> Outcome:
        reference = attempt.get("provider_reference")
        if reference:
            entity = _entity(await self._call("GET", f"/transactions/{reference}"), "transaction")
        else:
            found = await self._by_merchant_reference("transactions", "attempt_id", str(attempt["id"]))
            if found is None:
                return Outcome(str(attempt["id"]), AttemptStatus.PENDING)
            entity = found
        outcome = _transaction_outcome(entity)
        if outcome.attempt_id != attempt["id"]:
            return Outcome(str(attempt["id"]), AttemptStatus.PENDING)  # not the transaction it claims to be
        return outcome

    async def _by_merchant_reference(self, resource: str, key: str, reference: str) -> Mapping[str, Any] | None:
        """The SDKs' ``search`` (``GET /v1/{resource}/search?search=…``), kept to an exact match only, on
        ``merchant_reference`` or on our id in ``custom_metadata``."""
        answer = await self._call("GET", f"/{resource}/search", params={"search": reference})
        items = answer.get(f"v1/{resource}", answer.get(resource, [])) if isinstance(answer, dict) else []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            metadata = item.get("custom_metadata")
            ours = metadata.get(key) if isinstance(metadata, dict) else None
            if reference in (item.get("merchant_reference"), ours):
                return item
        return None

    # -- payouts --------------------------------------------------------------------------------------------

    async def payout(self, request: PayoutRequest, callback_url: str) -> str:
        if request.method.code not in PAYOUT_MODES:
            raise RequestRefused(f"fedapay does not pay out to {request.method.code}")
        mode, country = PAYOUT_MODES[request.method.code]
        phone = _phone(request.recipient.get("msisdn"), country)
        body = {
            "amount": request.amount,
            "currency": {"iso": request.currency},
            "mode": mode,
            "customer": {"phone_number": phone},
            "merchant_reference": request.payout_id,
            "custom_metadata": {"payout_id": request.payout_id},
        }
        try:
            created = _entity(await self._call("POST", "/payouts", body), "payout")
        except (httpx.HTTPError, FedapayError) as exc:
            # A payout FedaPay created but was never told to start moves no money: failing it here is safe.
            raise ProviderUnavailable("fedapay payout create") from exc
        payout_id = str(created["id"])
        try:
            await self._call("PUT", "/payouts/start", {"payouts": [{"id": created["id"], "phone_number": phone}]})
        except (httpx.ConnectError, httpx.ConnectTimeout, FedapayRefused) as exc:
            raise _not_taken(exc, "fedapay payout start") from exc
        # A timeout or 5xx on start propagates: it may be sending; reconciliation asks by merchant_reference.
        return payout_id

    def parse_payout_callback(self, body: bytes, headers: Mapping[str, str]) -> PayoutOutcome:
        credentials = self.account.credentials
        secret = credentials.get("payout_webhook_secret") or credentials["webhook_secret"]
        return _payout_event_outcome(self._verified(body, headers, secret))

    async def fetch_payout_status(self, payout: Mapping[Any, Any]) -> PayoutOutcome:
        reference = payout.get("provider_reference")
        if reference:
            entity = _entity(await self._call("GET", f"/payouts/{reference}"), "payout")
        else:
            found = await self._by_merchant_reference("payouts", "payout_id", str(payout["id"]))
            if found is None:
                return PayoutOutcome(str(payout["id"]), PayoutStatus.PENDING)
            entity = found
        outcome = _payout_outcome(entity)
        if outcome.payout_id != payout["id"]:
            return PayoutOutcome(str(payout["id"]), PayoutStatus.PENDING)
        return outcome

    # -- credentials and signatures -------------------------------------------------------------------------

    async def check_credentials(self) -> str:
        try:
            answer = await self._call("GET", "/balances")
        except (httpx.HTTPError, FedapayFailed) as exc:
            raise ProviderUnavailable("fedapay unreachable") from exc
        except FedapayRefused as exc:
            if exc.status in (401, 403):
                raise CredentialsRefused(f"FedaPay refused the secret key ({exc.status})") from exc
            raise ProviderUnavailable(f"fedapay answered {exc.status}") from exc
        balances = answer.get("v1/balances", []) if isinstance(answer, dict) else []
        host = "sandbox" if self.account.sandbox else "live"
        return f"FedaPay {host} accepted the key ({len(balances) if isinstance(balances, list) else 0} balances)"

    def _verified(self, body: bytes, headers: Mapping[str, str], secret: str) -> dict[str, Any]:
        """The event once its ``X-FEDAPAY-SIGNATURE`` matches and is recent (``CallbackRejected`` otherwise)."""
        timestamp, signatures = _parse_signature(_header(headers, SIGNATURE_HEADER))
        if timestamp is None or not signatures:
            raise CallbackRejected("missing signature")
        signed = str(timestamp).encode() + b"." + body
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
        if not any(hmac.compare_digest(expected, s.encode("utf-8", "replace")) for s in signatures):
            raise CallbackRejected("bad signature")
        if abs(_now() - timestamp) > TOLERANCE_SECONDS:
            raise CallbackRejected("stale signature")
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise CallbackRejected("malformed notification") from exc
        if not isinstance(event, dict):
            raise CallbackRejected("malformed notification")
        return event


def _transaction_event_outcome(event: Mapping[str, Any]) -> Outcome:
    try:
        if event.get("object") != "transaction":
            return Outcome("", AttemptStatus.PENDING)  # authentic but not ours to apply (customer.created…)
        entity = event["entity"]
        if not isinstance(entity, dict):
            raise TypeError("entity")
        return _transaction_outcome(entity)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CallbackRejected("malformed notification") from exc


def _payout_event_outcome(event: Mapping[str, Any]) -> PayoutOutcome:
    try:
        if event.get("object") != "payout":
            return PayoutOutcome("", PayoutStatus.PENDING)
        entity = event["entity"]
        if not isinstance(entity, dict):
            raise TypeError("entity")
        return _payout_outcome(entity)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CallbackRejected("malformed notification") from exc


class FedapayError(Exception):
    pass


class FedapayFailed(FedapayError):
    """FedaPay answered 5xx (or garbage): it may or may not have acted."""

    def __init__(self, status: int) -> None:
        super().__init__(f"fedapay answered {status}")
        self.status = status


class FedapayRefused(FedapayError):
    """FedaPay answered 4xx: it received the request and refused it, so it did nothing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"fedapay refused ({status}): {message}")
        self.status = status


def _not_taken(exc: Exception, what: str) -> ProviderUnavailable:
    """What a call that took nothing raises: FedaPay's refusal of the request itself (a number it rejects) says
    it is up, and does not count toward the account's breaker; refused credentials, a rate limit or no
    connection do."""
    if isinstance(exc, FedapayRefused) and exc.status not in (401, 403, 429):
        return RequestRefused(f"{what}: {exc}")
    return ProviderUnavailable(what)


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-FEDAPAY-SIGNATURE`` value FedaPay sends for ``body`` (the SDKs' ``generateTestHeaderString``)."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={digest}"


def _parse_signature(header: str) -> tuple[int | None, list[str]]:
    """``t=…,s=…[,s=…]`` as the SDKs read it: the first ``t``, every ``s``."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and timestamp is None and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "s" and value:
            signatures.append(value)
    return timestamp, signatures


def _header(headers: Mapping[str, str], name: str) -> str:
    """``name`` in any case (Starlette's headers are case-insensitive; a plain mapping may not be)."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), "")
    return value


def _now() -> float:
    """The clock signatures are checked against (a test moves it)."""
    return time.time()


def _phone(phone: str | None, country: str) -> dict[str, str]:
    digits = "".join(c for c in phone or "" if c.isdigit())
    return {"number": f"+{digits}" if digits else "", "country": country}


def _entity(answer: Any, name: str) -> Mapping[str, Any]:
    """FedaPay wraps one object under its class, ``{"v1/transaction": {...}}``."""
    entity = answer.get(f"v1/{name}") if isinstance(answer, dict) else None
    if not isinstance(entity, dict) or "id" not in entity:
        raise FedapayFailed(200)
    return entity


def _our_id(entity: Mapping[str, Any], key: str) -> str | None:
    """Our id, as FedaPay echoes it; None for what Cauri did not create (the account may serve a shop's
    other integrations too, whose events are authentic but none of ours)."""
    metadata = entity.get("custom_metadata")
    reference = entity.get("merchant_reference") or (metadata.get(key) if isinstance(metadata, dict) else None)
    return reference if isinstance(reference, str) and reference else None


def _transaction_outcome(entity: Mapping[str, Any]) -> Outcome:
    """The transaction's outcome, naming it (an attempt whose creation was ambiguous learns its id here)."""
    result, found = _transaction_result(entity), entity.get("id")
    if not result.attempt_id or not isinstance(found, (int, str)) or isinstance(found, bool):
        return result  # not one of ours: it names nothing of Cauri's
    return replace(result, reference=str(found))


def _transaction_result(entity: Mapping[str, Any]) -> Outcome:
    attempt_id = _our_id(entity, "attempt_id")
    if attempt_id is None:
        return Outcome("", AttemptStatus.PENDING)
    status = str(entity.get("status") or "")
    if status in PAID:
        # What FedaPay collected, for the gateway to compare with the payment: amounts in XOF, FedaPay's one
        # currency, are whole francs; anything else cannot be the payment's.
        amount, currency = entity.get("amount"), entity.get("currency")
        iso = currency.get("iso") if isinstance(currency, dict) else None
        if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
            return Outcome(attempt_id, AttemptStatus.FAILED, "amount_mismatch", N_("A payment attempt failed."))
        return Outcome(attempt_id, AttemptStatus.SUCCESS, amount=amount,
                       currency=iso if isinstance(iso, str) else None)  # fmt: skip
    if status in UNPAID:
        return Outcome(attempt_id, AttemptStatus.FAILED, status, UNPAID[status])
    return Outcome(attempt_id, AttemptStatus.PENDING)


def _payout_outcome(entity: Mapping[str, Any]) -> PayoutOutcome:
    payout_id = _our_id(entity, "payout_id")
    if payout_id is None:
        return PayoutOutcome("", PayoutStatus.PENDING)
    status = str(entity.get("status") or "")
    if status == "sent":
        return PayoutOutcome(payout_id, PayoutStatus.SUCCESS)
    if status == "failed":
        code = str(entity.get("last_error_code") or "failed")[:64]
        return PayoutOutcome(payout_id, PayoutStatus.FAILED, code, "The payout failed at FedaPay.")
    return PayoutOutcome(payout_id, PayoutStatus.PENDING)


def _message(response: httpx.Response) -> str:
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    return str(data.get("message", ""))[:200] if isinstance(data, dict) else ""
