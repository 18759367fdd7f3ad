"""pawaPay: mobile money collections (deposits), payouts and refunds through pawaPay's Merchant API v2.

Written from pawaPay's public documentation (docs.pawapay.io) and its official signature examples:

- ``/using_the_api`` and ``/v2/api-reference/openapi_v2.yaml``: a bearer token; the hosts
  ``api.sandbox.pawapay.io`` and ``api.pawapay.io``. ``/v2/docs/what_to_know``: callbacks are configured per
  operation in pawaPay's dashboard (not per request), and the check-status endpoints are the fallback.
- ``/v2/docs/deposits``, ``/v2/api-reference/deposits/*``, ``/v2/api-reference/payouts/*`` and
  ``/v2/api-reference/refunds/*`` (initiate, check status, callback, resend callback): an initiation answers
  ``ACCEPTED``, ``REJECTED`` (with a ``failureReason``) or ``DUPLICATE_IGNORED`` (the same id was already
  accepted: the documented, safe way to retry); ``GET /v2/{deposits|payouts|refunds}/{id}`` answers
  ``FOUND`` with the transaction under ``data`` or ``NOT_FOUND``; a callback is the transaction itself, its
  ``metadata`` echoed back as one JSON object.
- ``/v2/docs/failure_codes``, ``/v2/docs/test_numbers`` and ``/v2/docs/providers`` (the provider codes mapped
  below); ``/v2/api-reference/toolkit/active-configuration`` (what ``check_credentials`` asks).
- ``/v2/docs/signatures`` and ``/v2/api-reference/toolkit/public-keys``, with the official repositories
  ``pawaPay/signatures-java-example`` and ``pawaPay/signatures-node-example``: callbacks are signed per
  RFC 9421 (``Signature``, ``Signature-Input`` with ``alg``, ``keyid``, ``created``, ``expires``) over a
  ``Content-Digest`` (RFC 9530, sha-256 or sha-512) of the body; pawaPay's keys are published at
  ``GET /v2/public-key/http`` as ``[{"id": keyid, "key": PEM}]``. pawaPay's own libraries sign ECDSA with the
  JCA/Node default (a DER signature); RFC 9421's raw ``r||s`` is accepted too. ``@authority`` and ``@path``
  are checked against the request's ``Host`` and Cauri's callback routes: a proxy in front must keep the Host.

Cauri's ids become pawaPay's: the ``depositId``, ``payoutId`` and ``refundId`` are UUIDv4-shaped digests of
the account and Cauri's id, so a retry, a status check or a reconciliation after a lost answer always names
the same transaction (pawaPay's idempotency), and Cauri's id travels in ``metadata`` so a callback names its
attempt (a callback whose id does not match its metadata is refused).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cauri.connectors.answers import bounded_request
from cauri.connectors.base import (
    ActionKind,
    AttemptRequest,
    CallbackRejected,
    CredentialsRefused,
    NextAction,
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
from cauri.domain.methods import CATALOGUE
from cauri.domain.payouts import PayoutStatus
from cauri.domain.refunds import RefundStatus

log = logging.getLogger("cauri.connectors.pawapay")

SANDBOX_URL = "https://api.sandbox.pawapay.io"
LIVE_URL = "https://api.pawapay.io"

#: Catalogue method codes and the pawaPay provider of the same wallets (docs: v2 providers). Providers whose
#: authorisation is not the PIN prompt (``PREAUTH`` OTPs, ``REDIRECT_AUTH`` such as Wave) are left out.
WALLETS: dict[str, str] = {
    "mtn_bj": "MTN_MOMO_BEN",
    "moov_bj": "MOOV_BEN",
    "moov_bf": "MOOV_BFA",
    "mtn_cm": "MTN_MOMO_CMR",
    "orange_cm": "ORANGE_CMR",
    "mtn_ci": "MTN_MOMO_CIV",
    "orange_ci": "ORANGE_CIV",
    "airtel_cd": "AIRTEL_COD",
    "orange_cd": "ORANGE_COD",
    "vodacom_cd": "VODACOM_MPESA_COD",
    "mtn_gh": "MTN_MOMO_GHA",
    "vodafone_gh": "VODAFONE_GHA",
    "tigo_gh": "AIRTELTIGO_GHA",
    "mpesa_ke": "MPESA_KEN",
    "airtel_mw": "AIRTEL_MWI",
    "tnm_mw": "TNM_MWI",
    "mtn_rw": "MTN_MOMO_RWA",
    "airtel_rw": "AIRTEL_RWA",
    "freemoney_sn": "FREE_SEN",
    "orange_sn": "ORANGE_SEN",
    "airtel_tz": "AIRTEL_TZA",
    "tigo_tz": "TIGO_TZA",
    "halopesa_tz": "HALOTEL_TZA",
    "mpesa_tz": "VODACOM_TZA",
    "mtn_ug": "MTN_MOMO_UGA",
    "airtel_ug": "AIRTEL_OAPI_UGA",
    "mtn_zm": "MTN_MOMO_ZMB",
    "airtel_zm": "AIRTEL_OAPI_ZMB",
    "zamtel_zm": "ZAMTEL_ZMB",
}

#: What the catalogue collects with and pays out to, among those wallets.
PROVIDER_CODES = {code: provider for code, provider in WALLETS.items() if code in CATALOGUE.payment_methods}
PAYOUT_PROVIDER_CODES = {code: provider for code, provider in WALLETS.items() if code in CATALOGUE.payout_methods}

#: pawaPay's statuses of a deposit, payout or refund that is not final yet (``ENQUEUED``: payouts waiting for
#: the provider to recover; ``IN_RECONCILIATION``: pawaPay is settling the outcome with the provider).
_UNDECIDED = frozenset({"ACCEPTED", "SUBMITTED", "PROCESSING", "ENQUEUED", "IN_RECONCILIATION"})

#: A callback older than this (by its signature's ``created``) is a replay, whatever its ``expires`` says.
REPLAY_WINDOW_SECONDS = 300
#: How far a signature's ``created`` may lie ahead of our clock.
CLOCK_SKEW_SECONDS = 60
#: pawaPay's public keys are fetched again after this long, and at most this often on an unknown ``keyid``.
KEYS_TTL_SECONDS = 3600
KEYS_RETRY_SECONDS = 60
#: Outbound calls: connect quickly, give pawaPay's documented synchronous answer time to arrive.
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
#: Tries of one initiation, all with the same id (pawaPay answers the later ones ``DUPLICATE_IGNORED``).
INITIATION_TRIES = 2


class InitiationRejected(ProviderUnavailable):
    """pawaPay answered ``REJECTED`` (or refused the request outright): nothing was accepted."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


class InitiationRefused(InitiationRejected, RequestRefused):
    """pawaPay refused this request itself (``REJECTED``: a number or provider it does not serve, a field it
    does not accept): it is up, so the refusal does not count toward the account's circuit breaker."""


class PawapayUncertain(Exception):
    """pawaPay may have accepted the request (a timeout after sending, a 5xx and an unanswered status check):
    the caller leaves it pending, and reconciliation asks about the same id later."""


def transaction_id(account_id: str, cauri_id: str) -> str:
    """The UUIDv4-shaped id pawaPay knows Cauri's ``cauri_id`` by: a digest with the version and variant
    bits set, so it can be computed again from the attempt, payout or refund alone."""
    raw = bytearray(hashlib.sha256(f"pawapay:{account_id}:{cauri_id}".encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def msisdn(phone: str | None) -> str:
    """pawaPay's MSISDN: the international number's digits, no ``+`` nor spaces."""
    return "".join(c for c in phone or "" if c.isdigit())


class PawapayConnector(ProviderConnector):
    provider = "pawapay"
    credential_fields = ("api_token",)
    payment_methods = frozenset(PROVIDER_CODES)
    payout_methods = frozenset(PAYOUT_PROVIDER_CODES)

    def __init__(self, account: ProviderAccount, http: Any = None) -> None:
        super().__init__(account, http)
        self.base_url = (account.base_url or (SANDBOX_URL if account.sandbox else LIVE_URL)).rstrip("/")
        self._http: httpx.AsyncClient = http or httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        self._keys: dict[str, Any] = {}
        self._keys_at = float("-inf")

    # -- the API ---------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        token = self.account.credentials.get("api_token", "")
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def _get(self, path: str) -> httpx.Response:
        return await bounded_request(self._http, "GET", self.base_url + path, headers=self._headers())

    async def _initiate(self, path: str, body: dict[str, Any], id_field: str) -> None:
        """Ask pawaPay to start a deposit, payout or refund, retrying with the same id (pawaPay ignores a
        duplicate, and says so); returns once pawaPay has it. ``ProviderUnavailable`` when nothing can have
        been accepted, ``PawapayUncertain`` when it may have been."""
        payload = orjson.dumps(body)
        headers = {**self._headers(), "Content-Type": "application/json"}
        answered_5xx = maybe_sent = False
        last: Exception | None = None
        for _ in range(INITIATION_TRIES):
            try:
                response = await bounded_request(self._http, "POST", self.base_url + path, content=payload,
                                                 headers=headers)  # fmt: skip
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = exc  # nothing reached pawaPay
                continue
            except httpx.HTTPError as exc:
                last, maybe_sent = exc, True  # sent, unanswered: the retry's DUPLICATE_IGNORED would tell
                continue
            if response.status_code >= 500:
                answered_5xx, last = True, PawapayUncertain(f"HTTP {response.status_code}")
                continue
            if response.status_code >= 400 and (maybe_sent or answered_5xx):
                # A retry refused (rate limited, a proxy's 4xx) says nothing of the earlier try, which may
                # have been accepted: not "unavailable", or routing could send the payment elsewhere too.
                last = PawapayUncertain(f"retry answered HTTP {response.status_code}")
                break
            self._read_initiation(response)
            return
        if maybe_sent:
            raise PawapayUncertain(f"{type(last).__name__} after sending") from last
        if not answered_5xx:
            raise ProviderUnavailable("pawaPay could not be reached") from last
        # A 5xx may follow an acceptance: only pawaPay's own record says whether nothing was taken.
        if await self._never_accepted(f"{path}/{body[id_field]}"):
            raise ProviderUnavailable("pawaPay failed before accepting") from last
        raise PawapayUncertain("pawaPay failed; its record is unclear") from last

    def _read_initiation(self, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            code = _failure(_json(response))[0]
            raise InitiationRejected(code or "AUTHENTICATION_ERROR", "pawaPay refused the account's credentials")
        data = _json(response)
        if response.status_code >= 400:
            code, message = _failure(data)
            # Only a 400 refuses the request itself; any other 4xx (a rate limit, a wrong base URL, a proxy's
            # answer) is the account's trouble, and counts toward its breaker.
            refused = InitiationRefused if response.status_code == 400 else InitiationRejected
            raise refused(code or f"HTTP_{response.status_code}", message)
        if not isinstance(data, dict):
            raise PawapayUncertain(f"HTTP {response.status_code} without a JSON object")  # it may have accepted
        status = data.get("status")
        if status in ("ACCEPTED", "DUPLICATE_IGNORED"):
            return  # DUPLICATE_IGNORED: this very id was accepted before (a retry after a lost answer)
        if status == "REJECTED":
            code, message = _failure(data)
            raise InitiationRefused(code or "REJECTED", message)
        raise PawapayUncertain(f"unknown initiation status {status!r}")

    async def _never_accepted(self, status_path: str) -> bool:
        try:
            response = await self._get(status_path)
        except httpx.HTTPError:
            return False
        data = _json(response)
        return response.status_code == 200 and isinstance(data, dict) and data.get("status") == "NOT_FOUND"

    async def _status(self, path: str) -> dict[str, Any] | None:
        """pawaPay's record at ``path``: the transaction, or None when pawaPay has none. Raises on errors."""
        response = await self._get(path)
        if response.status_code != 200:
            raise PawapayUncertain(f"status check answered HTTP {response.status_code}")
        data = _json(response)
        if not isinstance(data, dict) or data.get("status") not in ("FOUND", "NOT_FOUND"):
            raise PawapayUncertain("status check answered something unexpected")
        if data["status"] == "NOT_FOUND":
            return None
        record = data.get("data")
        if not isinstance(record, dict):
            raise PawapayUncertain("status check answered FOUND without data")
        return record

    # -- deposits --------------------------------------------------------------------------------------------

    async def start(self, request: AttemptRequest, callback_url: str) -> Started:
        provider = PROVIDER_CODES.get(request.method.code)
        if provider is None or not msisdn(request.phone):
            raise InitiationRefused("INVALID_PROVIDER", "pawaPay does not collect with this method")
        deposit_id = transaction_id(self.account.id, request.attempt_id)
        await self._refresh_keys_if_stale()
        body = {
            "depositId": deposit_id,
            "amount": str(request.amount),
            "currency": request.currency,
            "payer": {"type": "MMO", "accountDetails": {"phoneNumber": msisdn(request.phone), "provider": provider}},
            "clientReferenceId": request.payment_id,
            "metadata": [{"attemptId": request.attempt_id}, {"paymentId": request.payment_id}],
        }
        await self._initiate("/v2/deposits", body, "depositId")
        return Started(deposit_id, NextAction(ActionKind.CONFIRM_ON_PHONE, {"phone": request.phone or ""}))

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        record = self._verified(body, headers, f"/connectors/{self.name}/callback")
        attempt_id = self._own_id(record, "depositId", "attemptId")
        return _deposit_outcome(attempt_id, record)

    async def fetch_status(self, attempt: Mapping[Any, Any]) -> Outcome:
        deposit_id = transaction_id(self.account.id, attempt["id"])
        record = await self._status(f"/v2/deposits/{deposit_id}")
        if record is None:
            # Never reached pawaPay (reconciliation asks only about attempts pending for a while).
            return Outcome(attempt["id"], AttemptStatus.FAILED, "not_found")
        if record.get("depositId") != deposit_id:
            raise PawapayUncertain("status check answered another deposit")
        return _deposit_outcome(attempt["id"], record)

    # -- payouts ---------------------------------------------------------------------------------------------

    async def payout(self, request: PayoutRequest, callback_url: str) -> str:
        provider = PAYOUT_PROVIDER_CODES.get(request.method.code)
        phone = msisdn(request.recipient.get("msisdn"))
        if provider is None or not phone:
            raise InitiationRefused("INVALID_PROVIDER", "pawaPay does not pay out with this method")
        payout_id = transaction_id(self.account.id, request.payout_id)
        await self._refresh_keys_if_stale()
        body = {
            "payoutId": payout_id,
            "amount": str(request.amount),
            "currency": request.currency,
            "recipient": {"type": "MMO", "accountDetails": {"phoneNumber": phone, "provider": provider}},
            "metadata": [{"payoutId": request.payout_id}],
        }
        await self._initiate("/v2/payouts", body, "payoutId")
        return payout_id

    def parse_payout_callback(self, body: bytes, headers: Mapping[str, str]) -> PayoutOutcome:
        record = self._verified(body, headers, f"/connectors/{self.name}/payouts/callback")
        payout_id = self._own_id(record, "payoutId", "payoutId")
        return PayoutOutcome(payout_id, *_out_status(record, PayoutStatus))

    async def fetch_payout_status(self, payout: Mapping[Any, Any]) -> PayoutOutcome:
        payout_id = transaction_id(self.account.id, payout["id"])
        record = await self._status(f"/v2/payouts/{payout_id}")
        if record is None:
            return PayoutOutcome(payout["id"], PayoutStatus.FAILED, "not_found")
        if record.get("payoutId") != payout_id:
            raise PawapayUncertain("status check answered another payout")
        return PayoutOutcome(payout["id"], *_out_status(record, PayoutStatus))

    # -- refunds ---------------------------------------------------------------------------------------------

    async def refund(self, request: RefundRequest, callback_url: str) -> str:
        refund_id = transaction_id(self.account.id, request.refund_id)
        deposit_id = request.attempt.get("provider_reference") or transaction_id(self.account.id, request.attempt["id"])
        await self._refresh_keys_if_stale()
        body = {
            "refundId": refund_id,
            "depositId": deposit_id,
            "amount": str(request.amount),
            "currency": request.currency,
            "metadata": [{"refundId": request.refund_id}],
        }
        await self._initiate("/v2/refunds", body, "refundId")
        return refund_id

    def parse_refund_callback(self, body: bytes, headers: Mapping[str, str]) -> RefundOutcome:
        record = self._verified(body, headers, f"/connectors/{self.name}/refunds/callback")
        refund_id = self._own_id(record, "refundId", "refundId")
        return RefundOutcome(refund_id, *_out_status(record, RefundStatus))

    async def fetch_refund_status(self, refund: Mapping[Any, Any]) -> RefundOutcome:
        refund_id = transaction_id(self.account.id, refund["id"])
        record = await self._status(f"/v2/refunds/{refund_id}")
        if record is None:
            return RefundOutcome(refund["id"], RefundStatus.FAILED, "not_found")
        if record.get("refundId") != refund_id:
            raise PawapayUncertain("status check answered another refund")
        return RefundOutcome(refund["id"], *_out_status(record, RefundStatus))

    # -- credentials -----------------------------------------------------------------------------------------

    async def check_credentials(self) -> str:
        """``GET /v2/active-conf``: harmless, authenticated, and it says whether callbacks are signed."""
        try:
            response = await self._get("/v2/active-conf")
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"pawaPay could not be reached ({type(exc).__name__})") from exc
        if response.status_code in (401, 403):
            raise CredentialsRefused(f"pawaPay refused the API token (HTTP {response.status_code})")
        if response.status_code != 200:
            raise ProviderUnavailable(f"pawaPay answered HTTP {response.status_code}")
        data = _json(response)
        if not isinstance(data, dict):
            raise ProviderUnavailable("pawaPay answered something unexpected")
        signing = data.get("signatureConfiguration") or {}
        signed = "signed callbacks" if signing.get("signedCallbacks") else "callbacks NOT signed (enable them)"
        countries = len(data.get("countries") or [])
        return f"pawaPay accepted the token: {data.get('companyName', '?')}, {countries} countries, {signed}"

    # -- callbacks: RFC 9421 signatures ----------------------------------------------------------------------

    def _own_id(self, record: Mapping[str, Any], id_field: str, metadata_field: str) -> str:
        """Cauri's id from the callback's metadata, refused unless pawaPay's id is the one Cauri derived."""
        metadata = record.get("metadata")
        cauri_id = metadata.get(metadata_field) if isinstance(metadata, dict) else None
        if not isinstance(cauri_id, str) or record.get(id_field) != transaction_id(self.account.id, cauri_id):
            raise CallbackRejected("not one of this account's transactions")
        return cauri_id

    def _verified(self, body: bytes, headers: Mapping[str, str], path: str) -> dict[str, Any]:
        """The callback's JSON once its signature, digest and freshness are checked (``CallbackRejected``)."""
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            name, components, params, raw_params = _signature_input(lower.get("signature-input", ""))
            signature = _signature(lower.get("signature", ""), name)
        except ValueError as exc:
            raise CallbackRejected("unsigned or malformed signature") from exc
        if "content-digest" not in components:
            raise CallbackRejected("the signature does not cover the body")
        if not _digest_matches(lower.get("content-digest", ""), body):
            raise CallbackRejected("content digest mismatch")
        now = time.time()
        created, expires = params.get("created"), params.get("expires")
        if not isinstance(created, int) or not isinstance(expires, int):
            raise CallbackRejected("signature without created/expires")
        if now > expires or now - created > REPLAY_WINDOW_SECONDS or created - now > CLOCK_SKEW_SECONDS:
            raise CallbackRejected("stale or replayed signature")
        lines = []
        for component in components:
            value = _component(component, lower, path)
            if value is None:
                raise CallbackRejected(f"signed component {component} missing")
            lines.append(f'"{component}": {value}')
        lines.append(f'"@signature-params": {raw_params}')
        base = "\n".join(lines).encode()
        key = self._key(str(params.get("keyid", "")))
        if key is None or not _verify(key, str(params.get("alg", "")), signature, base):
            raise CallbackRejected("bad signature")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise CallbackRejected("malformed notification") from exc
        if not isinstance(data, dict):
            raise CallbackRejected("malformed notification")
        return data

    async def prepare_callback(self, headers: Mapping[str, str]) -> None:
        """Fetch pawaPay's public keys before a callback is checked, when the one it names is unknown or the
        cache is old: asynchronously, so the event loop never waits on pawaPay (``parse_…`` reads the cache
        only). An unknown key id refetches at most once a minute, whoever sends it."""
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            keyid = str(_signature_input(lower.get("signature-input", ""))[2].get("keyid", ""))
        except ValueError:
            return  # unsigned or malformed: parsing refuses it without any key
        now = time.monotonic()
        stale = now - self._keys_at > KEYS_TTL_SECONDS
        if (keyid not in self._keys or stale) and now - self._keys_at > KEYS_RETRY_SECONDS:
            await self._refresh_keys()

    def _key(self, keyid: str) -> Any:
        """pawaPay's public key ``keyid`` from the cache (filled by ``prepare_callback`` and initiations)."""
        return self._keys.get(keyid)

    async def _refresh_keys_if_stale(self) -> None:
        """Warm the key cache off the callback path: each initiation refreshes it when it is old."""
        if time.monotonic() - self._keys_at > KEYS_TTL_SECONDS:
            await self._refresh_keys()

    async def _refresh_keys(self) -> None:
        self._keys_at = time.monotonic()  # first: concurrent callbacks with an unknown key ask once
        try:
            self._store_keys(await self._get("/v2/public-key/http"))
        except httpx.HTTPError:
            log.warning("pawaPay public keys unavailable", extra={"connector": self.name})

    def _store_keys(self, response: httpx.Response) -> None:
        data = _json(response)
        if response.status_code != 200 or not isinstance(data, list):
            log.warning("pawaPay public keys unreadable", extra={"connector": self.name})
            return
        keys: dict[str, Any] = {}
        for entry in data:
            try:
                keys[str(entry["id"])] = serialization.load_pem_public_key(str(entry["key"]).encode())
            except (KeyError, TypeError, ValueError):
                continue
        if keys:
            self._keys = keys


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _failure(data: Any) -> tuple[str | None, str | None]:
    """``failureReason``'s code and message (v2), or the top-level ones of an HTTP error answer."""
    if not isinstance(data, dict):
        return None, None
    reason = data.get("failureReason")
    if not isinstance(reason, dict):
        reason = data
    code = reason.get("failureCode")
    message = reason.get("failureMessage")
    return (str(code)[:60] if code else None), (str(message)[:1000] if message else None)


def _deposit_outcome(attempt_id: str, record: Mapping[str, Any]) -> Outcome:
    """The deposit's outcome, naming the deposit (an attempt whose start was ambiguous learns its id here)."""
    deposit_id = record.get("depositId")
    return replace(_deposit_result(attempt_id, record), reference=deposit_id if isinstance(deposit_id, str) else None)


def _deposit_result(attempt_id: str, record: Mapping[str, Any]) -> Outcome:
    """The deposit's outcome; a completed one carries what pawaPay collected (the gateway compares it with the
    payment), and one whose amount is no whole number of main units cannot be the payment's: it fails here."""
    status, code, message = _attempt_status(record)
    if status is not AttemptStatus.SUCCESS:
        return Outcome(attempt_id, status, code, message)
    currency = record.get("currency")
    currency = currency if isinstance(currency, str) else None
    amount = record.get("amount")
    if amount is None:
        return Outcome(attempt_id, status, currency=currency)
    try:
        exact = Decimal(amount) if isinstance(amount, str) and _DECIMAL.fullmatch(amount) else None
    except InvalidOperation:
        exact = None
    if exact is None or exact != exact.to_integral_value():
        return Outcome(attempt_id, AttemptStatus.FAILED, "amount_mismatch", N_("A payment attempt failed."))
    return Outcome(attempt_id, status, amount=int(exact), currency=currency)


_DECIMAL = re.compile(r"[0-9]{1,18}(\.[0-9]{1,6})?")


def _attempt_status(record: Mapping[str, Any]) -> tuple[AttemptStatus, str | None, str | None]:
    status = record.get("status")
    if status == "COMPLETED":
        return AttemptStatus.SUCCESS, None, None
    if status == "FAILED":
        code, message = _failure(record)
        return AttemptStatus.FAILED, (code or "failed").lower(), message
    if status in _UNDECIDED:
        return AttemptStatus.PENDING, None, None
    raise CallbackRejected(f"unknown status {status!r}")


def _out_status(record: Mapping[str, Any], kind: type[Any]) -> tuple[Any, str | None, str | None]:
    """A payout's or refund's status (``kind`` is ``PayoutStatus`` or ``RefundStatus``)."""
    status = record.get("status")
    if status == "COMPLETED":
        return kind.SUCCESS, None, None
    if status == "FAILED":
        code, message = _failure(record)
        return kind.FAILED, (code or "failed").lower(), message
    if status in _UNDECIDED:
        return kind.PENDING, None, None
    raise CallbackRejected(f"unknown status {status!r}")


_MEMBER = re.compile(r"^\s*([a-z*][a-z0-9_.*-]*)=\((.*?)\)((?:;[^;]*)*)\s*$")
_PARAM = re.compile(r'^([a-z*][a-z0-9_.*-]*)=("(?:[^"\\]|\\.)*"|-?\d+)$')


def _signature_input(header: str) -> tuple[str, list[str], dict[str, Any], str]:
    """RFC 9421 ``Signature-Input`` with one member: its label, components, parameters, and the raw inner list
    with parameters (the ``@signature-params`` line of the base, byte for byte)."""
    match = _MEMBER.match(header)
    if match is None:
        raise ValueError("Signature-Input")
    name, inner, raw_params = match.groups()
    components = re.findall(r'"([^"]+)"', inner)
    if not components or " ".join(f'"{c}"' for c in components) != inner.strip():
        raise ValueError("components")
    params: dict[str, Any] = {}
    for part in raw_params.split(";")[1:]:
        found = _PARAM.match(part.strip())
        if found is None:
            raise ValueError("parameter")
        key, value = found.groups()
        params[key] = value[1:-1] if value.startswith('"') else int(value)
    return name, components, params, header.split("=", 1)[1].strip()


def _signature(header: str, name: str) -> bytes:
    for member in header.split(","):
        label, _, value = member.strip().partition("=")
        if label == name and value.startswith(":") and value.endswith(":") and len(value) > 2:
            try:
                return base64.b64decode(value[1:-1], validate=True)
            except binascii.Error as exc:
                raise ValueError("signature encoding") from exc
    raise ValueError("no signature for the label")


def _digest_matches(header: str, body: bytes) -> bool:
    """RFC 9530: every digest given in an algorithm we know must match, and there must be one."""
    known = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
    checked = 0
    for member in header.split(","):
        alg, _, value = member.strip().partition("=")
        if alg not in known:
            continue
        if not (value.startswith(":") and value.endswith(":")):
            return False
        try:
            given = base64.b64decode(value[1:-1], validate=True)
        except ValueError:  # binascii.Error, and the ValueError of a non-ASCII value (a header is latin-1)
            return False
        if not hmac.compare_digest(given, known[alg](body).digest()):
            return False
        checked += 1
    return checked > 0


def _component(component: str, headers: Mapping[str, str], path: str) -> str | None:
    if component == "@method":
        return "POST"
    if component == "@path":
        return path
    if component == "@authority":
        host = headers.get("host")
        return host.strip().lower() if host else None
    if component.startswith("@"):
        return None  # a derived component we do not reconstruct: refuse rather than guess
    value = headers.get(component)
    return value.strip() if value is not None else None


def _verify(key: Any, alg: str, signature: bytes, base: bytes) -> bool:
    try:
        if alg in ("ecdsa-p256-sha256", "ecdsa-p384-sha384") and isinstance(key, ec.EllipticCurvePublicKey):
            digest: hashes.HashAlgorithm = hashes.SHA256() if alg.endswith("sha256") else hashes.SHA384()
            size = key.curve.key_size // 8 + (1 if key.curve.key_size % 8 else 0)
            if len(signature) == 2 * size:  # RFC 9421's raw r||s rather than pawaPay's libraries' DER
                r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
                signature = encode_dss_signature(r, s)
            key.verify(signature, base, ec.ECDSA(digest))
            return True
        if alg == "rsa-v1_5-sha256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, base, padding.PKCS1v15(), hashes.SHA256())
            return True
        if alg == "rsa-pss-sha512" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, base, padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512())
            return True
    except (InvalidSignature, ValueError):
        return False
    return False
