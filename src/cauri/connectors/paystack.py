"""Paystack: cards on Paystack's hosted page, mobile money and Nigerian bank transfer and USSD by the Charge API,
payouts by Transfers, refunds by the Refunds API.

Written from Paystack's public documentation and its official specification and code samples:

- the OpenAPI specification, github.com/PaystackOSS/openapi (``dist/paystack.yaml``): Initialize Transaction
  (``POST /transaction/initialize``), Verify Transaction (``GET /transaction/verify/{reference}``), Create Charge
  (``POST /charge``), Create Transfer Recipient (``POST /transferrecipient``), Initiate Transfer
  (``POST /transfer``), Verify Transfer (``GET /transfer/verify/{reference}``), Create and Fetch Refund
  (``POST /refund``, ``GET /refund/{id}``), Fetch Balance (``GET /balance``); Bearer authentication with the
  secret key; amounts "in the smallest denomination of the currency";
- the documentation's code samples, github.com/PaystackOSS/doc-code-snippets: payment methods (mobile money
  and its ``pay_offline``/``send_otp``/``pending`` answers, pay with transfer's ``pending_bank_transfer``, USSD's
  ``ussd_code``), webhooks (verifying ``x-paystack-signature``, and the ``charge.success``, ``transfer.*`` and
  ``refund.*`` events), transfer recipients (Ghana's mobile money telcos ``MTN``, ``ATL``, ``VOD``);
- paystack.com/docs: payments (accept payments, verify payments, payment channels), webhooks, test payments,
  transfers, refunds.

What the documentation implies, and what this module does about it:

- Test or live is the key, not the host: ``sk_test_…`` or ``sk_live_…`` against ``https://api.paystack.co``.
  ``check_credentials`` refuses a key whose mode is not the account's.
- Cards go to Paystack's hosted page (``authorization_url``): Cauri never sees a live card number. Paystack
  sends the customer back to the ``callback_url`` given at initialization: the attempt's ``return_url``, the
  payment's public checkout page.
- A transaction's ``reference`` is Cauri's attempt id (``att_x`` becomes ``att-x``: Paystack allows only
  ``-``, ``.``, ``=`` and alphanumerics), so a retried call cannot charge twice (Paystack refuses a duplicate
  reference) and every notification names its attempt. A transfer's ``reference`` (Paystack's idempotency key
  for transfers) is Cauri's payout id.
- Paystack signs a webhook with HMAC-SHA512 of the raw body keyed with the secret key (hex, in
  ``x-paystack-signature``); it is compared in constant time. The signature carries no timestamp, so a replay
  cannot be told apart by its signature: it is harmless because an attempt, a payout or a refund leaves
  ``pending`` once (a replayed success finds nothing to change), and an event that names no attempt of ours
  changes nothing.
- Webhooks are sent for successes (``charge.success``); a failed charge is never notified, so failures are
  found by polling (``fetch_status``, Verify Transaction), which the reconciliation job does.
- Paystack sends every event of an integration to the one webhook URL of its dashboard: point it at
  ``/connectors/{account id}/callback``. There, transfer events are applied to their payouts and refund events
  to their refunds (``parse_notification``); a refund event that names no refund of ours (Paystack's name the
  transaction) is acknowledged, and the reconciliation job polls the refund.
- Transfers stay ``otp`` when the integration asks an OTP for each transfer: payouts need it turned off on
  Paystack's dashboard (they read as pending until then). Webhooks are authenticated by their signature only,
  not by Paystack's published source addresses (a proxy in front of the gateway would hide them).
- Retries: a call is retried only when the connection could not be made (nothing was sent), with the same body
  and reference. A timeout or a 5xx after sending may have been accepted: the attempt stays pending and the
  reconciliation job asks Verify Transaction; so does a 503 (answered after sending), except on initialization
  whose hosted page no customer was shown. A refusal of the key, or a request refused as invalid (4xx, nothing
  created) raise ``ProviderUnavailable``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

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
    RefundOutcome,
    RefundRequest,
    RequestRefused,
    Started,
)
from cauri.domain.attempts import AttemptStatus
from cauri.domain.messages import N_
from cauri.domain.methods import CATALOGUE, MethodKind
from cauri.domain.payouts import PayoutStatus
from cauri.domain.refunds import RefundStatus

log = logging.getLogger("cauri.connectors.paystack")

API_URL = "https://api.paystack.co"
SIGNATURE_HEADER = "x-paystack-signature"
#: Every call to Paystack is bounded; a slow answer leaves the attempt to the reconciliation job.
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
#: Connection attempts when nothing could be sent (the same request, the same reference).
CONNECT_TRIES = 3

#: Mobile money by the Charge API: method code -> Paystack's ``mobile_money.provider``. Vodafone Ghana is left
#: out: Paystack answers it ``send_otp`` (a voucher the customer types), which the checkout does not collect.
MOBILE_MONEY = {
    "mtn_gh": "mtn",
    "tigo_gh": "atl",
    "mpesa_ke": "mpesa",
    "mtn_ci": "mtn",
    "orange_ci": "orange",
    "wave_ci": "wave",
}
#: Cards on Paystack's hosted page, in the currencies its API documents (NGN, GHS, KES, ZAR, USD).
CARDS = frozenset({"card_ngn", "card_ghs", "card_kes", "card_zar", "card_usd"})
#: Pay with Transfer (a temporary account number) and USSD, Nigeria's Charge API channels. USSD needs the
#: customer's bank's code; the documentation's example, GTBank's ``737``, is used.
BANK_TRANSFER, USSD = "bank_transfer_ng", "ussd_ngn"
USSD_BANK = "737"
#: Payouts by Transfers to Ghana's mobile money wallets: method code -> the telco's ``bank_code``.
PAYOUT_TELCOS = {"mtn_gh": "MTN", "tigo_gh": "ATL", "vodafone_gh": "VOD"}

#: Paystack's transaction statuses (Verify Transaction) that are final.
_PAID = frozenset({"success"})
_UNPAID = frozenset({"failed", "reversed"})
_TRANSFER_FAILED = frozenset({"failed", "reversed", "abandoned", "rejected", "blocked"})
_REFUND_DONE = frozenset({"processed"})
_REFUND_FAILED = frozenset({"failed"})
_REFERENCE = re.compile(r"[a-z]+-[0-9a-z]+")


class PaystackError(Exception):
    """Paystack answered something this connector cannot vouch for (the caller leaves the operation pending)."""


def transaction_reference(attempt_id: str) -> str:
    return attempt_id.replace("_", "-", 1)


def attempt_of(reference: str) -> str | None:
    """The attempt a transaction reference names, or None when the reference is not one of ours."""
    return reference.replace("-", "_", 1) if _REFERENCE.fullmatch(reference) else None


def subunits(amount: int, currency: str) -> int:
    """Cauri's amounts are in the currency's main unit; Paystack's in its subunit (kobo, pesewas, cents)."""
    found = CATALOGUE.currency(currency)
    return amount * (found.subunit_to_unit if found else 100)


def local_number(msisdn: str, country: str) -> str:
    """Ghana's wallets as Paystack's examples write them (``0551234987``); other countries in international
    digits (Kenya's examples: ``254700000000``)."""
    digits = "".join(c for c in msisdn if c.isdigit())
    dial = {"GH": "233"}.get(country)
    if dial and digits.startswith(dial) and len(digits) == len(dial) + 9:
        return "0" + digits[len(dial) :]
    return digits


class PaystackConnector(ProviderConnector):
    provider = "paystack"
    credential_fields = ("secret_key",)
    payment_methods = frozenset({*CARDS, *MOBILE_MONEY, BANK_TRANSFER, USSD})
    payout_methods = frozenset(PAYOUT_TELCOS)

    def __init__(self, account: ProviderAccount, http: Any = None) -> None:
        super().__init__(account, http)
        self._secret = account.credentials["secret_key"]
        self._base = (account.base_url or API_URL).rstrip("/")
        self._http: httpx.AsyncClient | None = http

    def __repr__(self) -> str:  # never the key
        return f"PaystackConnector({self.account.id!r})"

    # -- payments ---------------------------------------------------------------------------------------------

    async def start(self, request: AttemptRequest, callback_url: str) -> Started:
        method = request.method
        reference = transaction_reference(request.attempt_id)
        body: dict[str, Any] = {
            # Paystack requires an email (its receipts go there): the payment's customer's, else a stand-in
            # that receives nothing.
            "email": request.customer_email or f"{reference}@customers.invalid",
            "amount": subunits(request.amount, request.currency),
            "currency": request.currency,
            "reference": reference,
            "metadata": {"cauri_payment_id": request.payment_id, "cauri_attempt_id": request.attempt_id},
        }
        if method.kind is MethodKind.CARD:
            body["channels"] = ["card"]
            if request.return_url:  # else Paystack sends the customer to the dashboard's callback URL
                body["callback_url"] = request.return_url
            try:
                data = await self._call("POST", "/transaction/initialize", body)
            except PaystackBusy as exc:
                # The hosted page's address never reached the customer: nothing can be paid on it.
                raise ProviderUnavailable("Paystack is unavailable") from exc
            url = str(data.get("authorization_url") or "")
            if not self._trusted_page(url):
                raise PaystackError("authorization_url is not an https page")
            return Started(reference, NextAction(ActionKind.REDIRECT, {"url": url, "reference": reference}))
        if method.code in MOBILE_MONEY:
            country = method.countries[0] if method.countries else ""
            body["mobile_money"] = {
                "phone": local_number(request.phone or "", country),
                "provider": MOBILE_MONEY[method.code],
            }
        elif method.code == BANK_TRANSFER:
            body["bank_transfer"] = {}
        elif method.code == USSD:
            body["ussd"] = {"type": USSD_BANK}
        else:
            raise RequestRefused(f"paystack does not serve {method.code}")
        data = await self._call("POST", "/charge", body)
        return Started(str(data.get("reference") or reference), charge_action(data, request))

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        event, data = self._event(body, headers)
        attempt_id = attempt_of(str(data.get("reference") or ""))
        if event != "charge.success" or attempt_id is None:
            # Another kind of event (a transfer, a refund, a dispute…), or a transaction that is not Cauri's:
            # acknowledged so that Paystack stops sending it, and nothing changes.
            return Outcome(attempt_id or "", AttemptStatus.PENDING)
        return transaction_outcome(attempt_id, data)

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        """Paystack sends every event to the one webhook URL: transfers are payouts', refunds refunds'."""
        event, _ = self._event(body, headers)
        if event.startswith("transfer."):
            return self.parse_payout_callback(body, headers)
        if event.startswith("refund."):
            return self.parse_refund_callback(body, headers)
        return self.parse_callback(body, headers)

    async def fetch_status(self, attempt: Mapping[Any, Any]) -> Outcome:
        """Verify Transaction by its reference: the only way a failure is learnt (Paystack notifies successes)."""
        reference = attempt.get("provider_reference") or transaction_reference(attempt["id"])
        try:
            data = await self._call("GET", f"/transaction/verify/{quote(reference, safe='')}")
        except NotFoundAtPaystack:
            # Never created: the initialization did not reach Paystack, so nothing can be collected.
            return Outcome(attempt["id"], AttemptStatus.FAILED, "provider_unavailable",
                           N_("The payment provider could not be reached. Try again."))  # fmt: skip
        return transaction_outcome(attempt["id"], data)

    # -- refunds ----------------------------------------------------------------------------------------------

    async def refund(self, request: RefundRequest, callback_url: str) -> str:
        attempt = request.attempt
        reference = attempt.get("provider_reference") or transaction_reference(attempt["id"])
        body = {
            "transaction": reference,
            "amount": subunits(request.amount, request.currency),
            "currency": request.currency,
            "merchant_note": f"Cauri refund {request.refund_id}",
        }
        # Refunds have no idempotency key at Paystack: the call is sent once (no retry after sending).
        data = await self._call("POST", "/refund", body)
        return str(data["id"])

    def parse_refund_callback(self, body: bytes, headers: Mapping[str, str]) -> RefundOutcome:
        """``refund.processed``/``refund.failed`` name the transaction, not the refund, unless the merchant note
        Cauri wrote comes back (``refund.needs-attention`` carries it); otherwise acknowledged, and the
        reconciliation job asks Fetch Refund."""
        event, data = self._event(body, headers)
        note = str(data.get("merchant_note") or "")
        refund_id = note.removeprefix("Cauri refund ") if note.startswith("Cauri refund rf_") else ""
        if not event.startswith("refund.") or not refund_id:
            return RefundOutcome(refund_id, RefundStatus.PENDING)
        return refund_outcome(refund_id, str(data.get("status") or ""))

    async def fetch_refund_status(self, refund: Mapping[Any, Any]) -> RefundOutcome:
        reference = refund.get("provider_reference")
        if not reference:
            return RefundOutcome(refund["id"], RefundStatus.PENDING)
        data = await self._call("GET", f"/refund/{quote(str(reference), safe='')}")
        return refund_outcome(refund["id"], str(data.get("status") or ""))

    # -- payouts ----------------------------------------------------------------------------------------------

    async def payout(self, request: PayoutRequest, callback_url: str) -> str:
        telco = PAYOUT_TELCOS.get(request.method.code)
        if telco is None:
            raise RequestRefused(f"paystack does not pay out to {request.method.code}")
        number = local_number(request.recipient.get("msisdn", ""), "GH")
        recipient = await self._call(
            "POST",
            "/transferrecipient",
            {
                "type": "mobile_money",
                "name": request.recipient.get("name") or number,
                "account_number": number,
                "bank_code": telco,
                "currency": request.currency,
            },
        )
        # The transfer's reference is Paystack's idempotency key: a repeated call cannot pay twice.
        await self._call(
            "POST",
            "/transfer",
            {
                "source": "balance",
                "amount": subunits(request.amount, request.currency),
                "recipient": recipient["recipient_code"],
                "reference": request.payout_id,
                "currency": request.currency,
                "reason": f"Cauri payout {request.payout_id}",
            },
        )
        return request.payout_id

    def parse_payout_callback(self, body: bytes, headers: Mapping[str, str]) -> PayoutOutcome:
        event, data = self._event(body, headers)
        reference = str(data.get("reference") or "")
        if not event.startswith("transfer.") or not reference.startswith("po_"):
            return PayoutOutcome(reference if reference.startswith("po_") else "", PayoutStatus.PENDING)
        return transfer_outcome(reference, data)

    async def fetch_payout_status(self, payout: Mapping[Any, Any]) -> PayoutOutcome:
        reference = payout.get("provider_reference") or payout["id"]
        try:
            data = await self._call("GET", f"/transfer/verify/{quote(str(reference), safe='')}")
        except NotFoundAtPaystack:
            # No transfer under Cauri's reference (Paystack's idempotency key): none was made, none will be.
            return PayoutOutcome(payout["id"], PayoutStatus.FAILED, "provider_unavailable",
                                 "The transfer never reached Paystack.")  # fmt: skip
        return transfer_outcome(payout["id"], data)

    # -- credentials ------------------------------------------------------------------------------------------

    async def check_credentials(self) -> str:
        mode = "test" if self._secret.startswith("sk_test_") else "live" if self._secret.startswith("sk_live_") else ""
        if not mode:
            raise CredentialsRefused("the secret key is neither sk_test_… nor sk_live_…")
        if (mode == "test") != self.account.sandbox:
            wanted = "sandbox" if self.account.sandbox else "live"
            raise CredentialsRefused(f"a {mode} key on a {wanted} account")
        try:
            data = await self._call("GET", "/balance")
        except Unauthorized as exc:
            raise CredentialsRefused("Paystack refused the secret key") from exc
        except PaystackError as exc:
            raise ProviderUnavailable(f"Paystack answered unexpectedly: {exc}") from exc
        balances = ", ".join(f"{b.get('currency')} {b.get('balance')}" for b in data) if isinstance(data, list) else ""
        return f"Paystack {mode} key accepted; balance: {balances or 'none'}"

    # -- the wire ---------------------------------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        return hmac.new(self._secret.encode(), body, hashlib.sha512).hexdigest()

    def _event(self, body: bytes, headers: Mapping[str, str]) -> tuple[str, Mapping[str, Any]]:
        """The event's name and data once its signature is checked (``CallbackRejected`` otherwise)."""
        given = headers.get(SIGNATURE_HEADER, "").strip().lower().encode("ascii", "replace")
        if not hmac.compare_digest(self.sign(body).encode(), given):
            raise CallbackRejected("bad signature")
        try:
            parsed = orjson.loads(body)
            event, data = parsed["event"], parsed["data"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise CallbackRejected("malformed notification") from exc
        if not isinstance(event, str) or not isinstance(data, dict):
            raise CallbackRejected("malformed notification")
        return event, data

    def _trusted_page(self, url: str) -> bool:
        """Paystack's hosted page is https; a simulator on the configured API root's host is accepted too."""
        if url.startswith("https://"):
            return True
        base = urlsplit(self.account.base_url or "")
        page = urlsplit(url)
        return bool(self.account.base_url) and (page.scheme, page.netloc) == (base.scheme, base.netloc)

    async def _call(self, verb: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One call to Paystack; its ``data`` when ``status`` is true. Connection failures are retried (nothing
        was sent); anything after sending is not."""
        headers = {"Authorization": f"Bearer {self._secret}", "Accept": "application/json"}
        content = orjson.dumps(body) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        client = self._http or httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        try:
            for attempt in range(CONNECT_TRIES):
                try:
                    response = await bounded_request(client, verb, self._base + path, content=content,
                                                     headers=headers)  # fmt: skip
                    break
                except httpx.ConnectError as exc:
                    if attempt + 1 == CONNECT_TRIES:
                        raise ProviderUnavailable("Paystack could not be reached") from exc
                    await asyncio.sleep(0.2 * (attempt + 1))
                except httpx.TimeoutException as exc:
                    # Sent, perhaps accepted: the caller leaves it pending (never retried with a new body).
                    raise PaystackError(f"{verb} {path}: timed out") from exc
        finally:
            if self._http is None:
                await client.aclose()
        return _answer(verb, path, response)


class Unauthorized(ProviderUnavailable):
    """Paystack refused the key (401): nothing was accepted."""


class PaystackBusy(PaystackError):
    """Paystack answered 503: unavailable, though the request reached it (ambiguous but for initialization)."""


class NotFoundAtPaystack(PaystackError):
    """Paystack knows no such object (404)."""


def _answer(verb: str, path: str, response: httpx.Response) -> Any:
    """Paystack's ``data``, or the error its answer means (never with the request's headers)."""
    what = f"{verb} {path.split('/')[1]}: HTTP {response.status_code}"
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    message = str(parsed.get("message") or "") if isinstance(parsed, dict) else ""
    if response.status_code == 401:
        raise Unauthorized(what)
    if response.status_code == 404:
        raise NotFoundAtPaystack(what)
    if response.status_code == 503:
        # Said after the request was sent: a charge, a transfer or a refund may have been taken all the same,
        # and ``ProviderUnavailable`` would let routing try another account (a second charge).
        raise PaystackBusy(what)
    if response.status_code >= 500:
        raise PaystackError(what)  # it may have been taken: left to reconciliation
    if 400 <= response.status_code < 500:
        if "duplicate" in message.lower():
            raise PaystackError(f"{what}: duplicate reference")  # an earlier call was accepted
        log.warning("paystack refused a request", extra={"call": what, "reason": message[:200]})
        if response.status_code in (403, 429):  # the account's trouble (its key, its rate): counts toward its breaker
            raise ProviderUnavailable(f"{what}: {message[:200]}")
        raise RequestRefused(f"{what}: {message[:200]}")  # refused as invalid: nothing was created
    if not isinstance(parsed, dict) or parsed.get("status") is not True or "data" not in parsed:
        raise PaystackError(f"{what}: unexpected answer")
    return parsed["data"]


def charge_action(data: Mapping[str, Any], request: AttemptRequest) -> NextAction:
    """What the page shows after a Charge API call, from Paystack's answer (``pay_offline``, ``send_otp``,
    ``pending``, ``pending_bank_transfer``, or already ``success``)."""
    text = str(data.get("display_text") or "")
    kind = request.method.kind
    if kind is MethodKind.BANK_TRANSFER:
        given = data.get("bank")
        bank: Mapping[str, Any] = given if isinstance(given, dict) else {}
        shown = {
            "bank": str(bank.get("name") or ""),
            "account_number": str(data.get("account_number") or ""),
            "account_name": str(data.get("account_name") or ""),
            "expires_at": str(data.get("account_expires_at") or ""),
            "reference": str(data.get("reference") or ""),
        }
        return NextAction(ActionKind.INSTRUCTIONS, {k: v for k, v in shown.items() if v})
    if kind is MethodKind.USSD:
        return NextAction(ActionKind.INSTRUCTIONS, {"ussd_code": str(data.get("ussd_code") or ""), "text": text})
    # Mobile money: approve on the phone (``pay_offline``/``pending``), or follow the telco's text (``send_otp``
    # asks for a voucher the page cannot take: the reconciliation job learns how it ended).
    shown = {"phone": request.phone or "", "text": text}
    if data.get("account_number"):  # M-Pesa offline: pay to this till, with this reference
        shown["account_number"] = str(data["account_number"])
        shown["reference"] = str(data.get("account_reference") or "")
    return NextAction(ActionKind.CONFIRM_ON_PHONE, {k: v for k, v in shown.items() if v})


def transaction_outcome(attempt_id: str, data: Mapping[str, Any]) -> Outcome:
    """The transaction's outcome, naming it by its reference (learnt here when the start's answer was lost)."""
    reference = data.get("reference")
    return replace(_transaction_result(attempt_id, data), reference=reference if isinstance(reference, str) else None)


def _transaction_result(attempt_id: str, data: Mapping[str, Any]) -> Outcome:
    status = str(data.get("status") or "")
    if status in _PAID:
        return paid_outcome(attempt_id, data.get("amount"), data.get("currency"), data.get("requested_amount"))
    if status in _UNPAID:
        card = str(data.get("channel") or "") == "card"
        message = N_("The card was declined.") if card else N_("A payment attempt failed.")
        return Outcome(attempt_id, AttemptStatus.FAILED, "declined", message)
    return Outcome(attempt_id, AttemptStatus.PENDING)  # abandoned, ongoing, pending, processing, queued


def paid_outcome(attempt_id: str, amount: Any, currency: Any, requested: Any = None) -> Outcome:
    """A success with what Paystack says it collected, back in Cauri's units for the gateway to compare with the
    payment; an amount that is no whole number of main units cannot be the payment's, so it fails here. When the
    merchant passes Paystack's fees to customers, ``amount`` is the requested amount plus the fee: the requested
    amount is then the one compared, and the amount taken must cover it."""
    code = currency if isinstance(currency, str) else None
    if amount is None:
        return Outcome(attempt_id, AttemptStatus.SUCCESS, currency=code)
    found = CATALOGUE.currency(code) if code else None
    unit = found.subunit_to_unit if found else 100
    asked = requested if _whole(requested) else amount
    if not _whole(amount) or not _whole(asked) or asked % unit or amount < asked:
        return Outcome(attempt_id, AttemptStatus.FAILED, "amount_mismatch", N_("A payment attempt failed."))
    return Outcome(attempt_id, AttemptStatus.SUCCESS, amount=asked // unit, currency=code)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def transfer_outcome(payout_id: str, data: Mapping[str, Any]) -> PayoutOutcome:
    status = str(data.get("status") or "")
    if status == "success":
        return PayoutOutcome(payout_id, PayoutStatus.SUCCESS)
    if status in _TRANSFER_FAILED:
        reason = str(data.get("gateway_response") or data.get("failures") or "") or f"Transfer {status}."
        return PayoutOutcome(payout_id, PayoutStatus.FAILED, "payout_failed", reason[:500])
    return PayoutOutcome(payout_id, PayoutStatus.PENDING)  # pending, otp, received, queued


def refund_outcome(refund_id: str, status: str) -> RefundOutcome:
    if status in _REFUND_DONE:
        return RefundOutcome(refund_id, RefundStatus.SUCCESS)
    if status in _REFUND_FAILED:
        return RefundOutcome(refund_id, RefundStatus.FAILED, "refund_failed", "Paystack could not refund.")
    return RefundOutcome(refund_id, RefundStatus.PENDING)  # pending, processing, needs-attention
