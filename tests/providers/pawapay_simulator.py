"""A pawaPay Merchant API v2 stand-in, served on loopback: the same endpoints, the same bearer authentication,
the same answers, and callbacks signed as pawaPay signs them (RFC 9421 over a Content-Digest, an ECDSA P-256
key published at ``GET /v2/public-key/http``, DER signatures as pawaPay's own libraries produce).

Outcomes follow pawaPay's documented sandbox numbers for Benin (docs.pawapay.io/v2/docs/test_numbers); any
other number completes. On demand: 5xx answers, answers slower than the client waits, callbacks sent twice,
a stale callback after the final one, or no callback at all (the outcome is then only seen by polling).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

KEY_ID = "HTTP_EC_P256_KEY:1"
SIGNED_COMPONENTS = ("@method", "@authority", "@path", "signature-date", "content-digest", "content-type")

#: docs.pawapay.io/v2/docs/test_numbers, Benin: MSISDN → (final status or None for "stays SUBMITTED", code).
DEPOSIT_NUMBERS: dict[str, tuple[str | None, str | None]] = {
    "22951345029": ("FAILED", "PAYER_NOT_FOUND"),
    "22951345039": ("FAILED", "PAYMENT_NOT_APPROVED"),
    "22951345069": ("FAILED", "UNSPECIFIED_FAILURE"),
    "22951345129": (None, None),  # stays PROCESSING ("SUBMITTED" in the v1 table): no callback
    "22951345789": ("COMPLETED", None),
}
PAYOUT_NUMBERS: dict[str, tuple[str | None, str | None]] = {
    "22951345089": ("FAILED", "RECIPIENT_NOT_FOUND"),
    "22951345119": ("FAILED", "UNSPECIFIED_FAILURE"),
    "22951345129": (None, None),
    "22951345789": ("COMPLETED", None),
}
#: The providers this simulated account has (docs: v2 providers), with their currency.
PROVIDERS = {"MTN_MOMO_BEN": "XOF", "MOOV_BEN": "XOF", "MTN_MOMO_CMR": "XAF", "ORANGE_CMR": "XAF"}

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_AMOUNT = re.compile(r"^(0|[1-9]\d{0,17})(\.\d{1,2})?$")  # docs: no leading zeroes, at most two decimals


@dataclass
class Knobs:
    """What the next requests and callbacks do; tests set them."""

    #: The next N financial requests answer 500 (nothing recorded).
    fail_next: int = 0
    #: The next N financial requests are recorded, then answered after ``slow_seconds``.
    slow_next: int = 0
    slow_seconds: float = 2.0
    #: Callbacks: sent after ``delay`` seconds; twice; followed by a stale PROCESSING one; or not at all.
    delay: float = 0.05
    duplicate: bool = False
    out_of_order: bool = False
    callbacks: bool = True


@dataclass
class PawapaySimulator:
    token: str
    #: Callback URLs per operation, as the merchant configures them in pawaPay's dashboard.
    callback_urls: dict[str, str] = field(default_factory=dict)
    knobs: Knobs = field(default_factory=Knobs)
    records: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"deposit": {}, "payout": {}, "refund": {}}
    )
    sent: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    #: What the merchant answered to each callback sent (status code and JSON), in order.
    answers: list[tuple[int, Any]] = field(default_factory=list)
    seen_requests: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.public_pem = (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.app = Starlette(
            routes=[
                Route("/v2/deposits", self.initiate("deposit"), methods=["POST"]),
                Route("/v2/payouts", self.initiate("payout"), methods=["POST"]),
                Route("/v2/refunds", self.initiate("refund"), methods=["POST"]),
                Route("/v2/deposits/{id}", self.check("deposit"), methods=["GET"]),
                Route("/v2/payouts/{id}", self.check("payout"), methods=["GET"]),
                Route("/v2/refunds/{id}", self.check("refund"), methods=["GET"]),
                Route("/v2/deposits/resend-callback/{id}", self.resend("deposit"), methods=["POST"]),
                Route("/v2/payouts/resend-callback/{id}", self.resend("payout"), methods=["POST"]),
                Route("/v2/refunds/resend-callback/{id}", self.resend("refund"), methods=["POST"]),
                Route("/v2/public-key/http", self.public_keys, methods=["GET"]),
                Route("/v2/active-conf", self.active_conf, methods=["GET"]),
            ]
        )

    # -- authentication (docs: failure codes NO_AUTHENTICATION 401, AUTHENTICATION_ERROR 403) ------------------

    def _refused(self, request: Request) -> Response | None:
        self.seen_requests.append((request.method, request.url.path))
        header = request.headers.get("authorization", "")
        if not header:
            return _failure(401, "NO_AUTHENTICATION", "No API token in the request headers.")
        if header != f"Bearer {self.token}":
            return _failure(403, "AUTHENTICATION_ERROR", "The API token is not valid.")
        return None

    # -- financial requests --------------------------------------------------------------------------------------

    def initiate(self, kind: str) -> Any:
        async def endpoint(request: Request) -> Response:
            if (refused := self._refused(request)) is not None:
                return refused
            if self.knobs.fail_next > 0:
                self.knobs.fail_next -= 1
                return _failure(500, "UNKNOWN_ERROR", "Simulated failure.")
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return _failure(400, "INVALID_INPUT", "We were unable to parse the payload.")
            if not isinstance(body, dict):
                return _failure(400, "INVALID_INPUT", "We were unable to parse the payload.")
            problem = self._invalid(kind, body)
            if problem is not None:
                return _failure(400, *problem)
            answer = self._accept(kind, body)
            if self.knobs.slow_next > 0:  # the answer comes too late for the client, whatever it says
                self.knobs.slow_next -= 1
                await asyncio.sleep(self.knobs.slow_seconds)
            return answer

        return endpoint

    def _accept(self, kind: str, body: dict[str, Any]) -> Response:
        id_field, tx_id = f"{kind}Id", body[f"{kind}Id"]
        if tx_id in self.records[kind]:
            return JSONResponse({id_field: tx_id, "status": "DUPLICATE_IGNORED", "created": _now()})
        rejection = self._rejection(kind, body)
        if rejection is not None:
            reason = {"failureCode": rejection[0], "failureMessage": rejection[1]}
            return JSONResponse({id_field: tx_id, "status": "REJECTED", "failureReason": reason})
        record = self._record(kind, body)
        self.records[kind][tx_id] = record
        self._later(self._settle(kind, tx_id))
        return JSONResponse({id_field: tx_id, "status": "ACCEPTED", "created": record["created"]})

    def _invalid(self, kind: str, body: dict[str, Any]) -> tuple[str, str] | None:
        allowed = {
            "deposit": {"depositId", "amount", "currency", "payer", "clientReferenceId", "customerMessage",
                        "metadata", "preAuthorisationCode"},
            "payout": {"payoutId", "amount", "currency", "recipient", "clientReferenceId", "customerMessage",
                       "metadata"},
            "refund": {"refundId", "depositId", "amount", "currency", "metadata"},
        }[kind]  # fmt: skip
        if extra := sorted(set(body) - allowed):
            return "UNSUPPORTED_PARAMETER", f"Unsupported parameter {extra[0]}."
        required = {"deposit": ("payer",), "payout": ("recipient",), "refund": ("depositId",)}[kind]
        for name in (f"{kind}Id", "amount", "currency", *required):
            if name not in body:
                return "MISSING_PARAMETER", f"{name} is missing."
        if not isinstance(body[f"{kind}Id"], str) or not _UUID4.match(body[f"{kind}Id"]):
            return "INVALID_PARAMETER", f"{kind}Id must be a UUIDv4."
        if not isinstance(body["amount"], str) or not _AMOUNT.match(body["amount"]):
            return "INVALID_PARAMETER", "amount is not a valid amount."
        metadata = body.get("metadata", [])
        if not isinstance(metadata, list) or any(not isinstance(m, dict) for m in metadata):
            return "INVALID_PARAMETER", "metadata must be a list of objects."
        names = [k for m in metadata for k in m if k != "isPII"]
        if len(names) != len(set(names)):
            return "DUPLICATE_METADATA_FIELD", "A metadata field is repeated."
        party = body.get("payer") or body.get("recipient")
        if kind != "refund":
            details = party.get("accountDetails") if isinstance(party, dict) else None
            if not isinstance(party, dict) or party.get("type") != "MMO" or not isinstance(details, dict):
                return "INVALID_PARAMETER", "payer/recipient must be an MMO account."
        return None

    def _rejection(self, kind: str, body: dict[str, Any]) -> tuple[str, str] | None:
        """The documented REJECTED answers (HTTP 200) this simulator knows."""
        if kind == "refund":
            deposit = self.records["deposit"].get(body["depositId"])
            if deposit is None:
                return "DEPOSIT_NOT_FOUND", "The deposit to refund does not exist."
            if deposit["status"] != "COMPLETED":
                return "INVALID_STATE", "Only a completed deposit can be refunded."
            if Decimal(body["amount"]) > Decimal(deposit["amount"]):
                return "AMOUNT_OUT_OF_BOUNDS", "A refund cannot exceed its deposit."
            return None
        details = (body.get("payer") or body.get("recipient"))["accountDetails"]
        provider, phone = details.get("provider"), str(details.get("phoneNumber", ""))
        if provider not in PROVIDERS:
            return "INVALID_PROVIDER", "The provider is not valid for the request."
        if not phone.isdigit():
            return "INVALID_PHONE_NUMBER", "The phone number is not in the MSISDN format."
        if PROVIDERS[provider] != body["currency"]:
            return "INVALID_CURRENCY", "The currency is not supported by the provider."
        return None

    def _record(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            f"{kind}Id": body[f"{kind}Id"],
            "status": "ACCEPTED",
            "amount": body["amount"],
            "currency": body["currency"],
            "created": _now(),
        }
        if kind == "deposit":
            record["payer"] = body["payer"]
            record["country"] = "BEN"
        elif kind == "payout":
            record["recipient"] = body["recipient"]
        else:
            record["depositId"] = body["depositId"]
            record["recipient"] = self.records["deposit"][body["depositId"]]["payer"]
        if "clientReferenceId" in body:
            record["clientReferenceId"] = body["clientReferenceId"]
        # Callbacks and status checks echo the metadata as one JSON object (docs: deposit callback).
        record["metadata"] = {k: v for m in body.get("metadata", []) for k, v in m.items() if k != "isPII"}
        return record

    async def _settle(self, kind: str, tx_id: str) -> None:
        """Reach the outcome the number asks for, then call back as the knobs say."""
        await asyncio.sleep(self.knobs.delay)
        record = self.records[kind][tx_id]
        record["status"] = "PROCESSING"  # v2: submitted to the provider
        if kind == "refund":
            final, code = "COMPLETED", None
        else:
            numbers = DEPOSIT_NUMBERS if kind == "deposit" else PAYOUT_NUMBERS
            party = record.get("payer") or record["recipient"]
            final, code = numbers.get(party["accountDetails"]["phoneNumber"], ("COMPLETED", None))
        if final is None:
            return  # stuck: no outcome, no callback
        stale = dict(record)
        record["status"] = final
        if kind == "deposit" and final == "COMPLETED":
            record["providerTransactionId"] = uuid.uuid4().hex[:10].upper()
        if code is not None:
            record["failureReason"] = {"failureCode": code, "failureMessage": f"Simulated {code}."}
        if not self.knobs.callbacks:
            return
        await self._deliver(kind, record)
        if self.knobs.duplicate:
            await self._deliver(kind, record)
        if self.knobs.out_of_order:
            await self._deliver(kind, stale)

    async def _deliver(self, kind: str, record: dict[str, Any]) -> None:
        url = self.callback_urls.get(kind)
        if url is None:
            return
        body, headers = self.signed(url, record)
        self.sent.append((url, headers, body))
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                answer = await client.post(url, content=body, headers=headers)
            self.answers.append((answer.status_code, answer.json()))
        except (httpx.HTTPError, ValueError):
            pass  # pawaPay would retry; the merchant's reconciliation covers it

    def signed(self, url: str, record: dict[str, Any], *, created: int | None = None) -> tuple[bytes, dict[str, str]]:
        """A callback to ``url`` as pawaPay sends it: the body, a sha-512 Content-Digest, a Signature-Date, and
        an RFC 9421 signature over the components pawaPay covers."""
        body = orjson.dumps(record)
        parts = urlsplit(url)
        created = int(time.time()) if created is None else created
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "Content-Digest": f"sha-512=:{base64.b64encode(hashlib.sha512(body).digest()).decode()}:",
            "Signature-Date": datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z"),
        }
        values = {
            "@method": "POST",
            "@authority": parts.netloc.lower(),
            "@path": parts.path,
            **{k.lower(): v for k, v in headers.items()},
        }
        inner = " ".join(f'"{c}"' for c in SIGNED_COMPONENTS)
        params = f'({inner});alg="ecdsa-p256-sha256";keyid="{KEY_ID}";created={created};expires={created + 60}'
        base = "\n".join([*(f'"{c}": {values[c]}' for c in SIGNED_COMPONENTS), f'"@signature-params": {params}'])
        signature = self.private_key.sign(base.encode(), ec.ECDSA(hashes.SHA256()))  # DER, as pawaPay's libraries
        headers["Signature-Input"] = f"sig-pp={params}"
        headers["Signature"] = f"sig-pp=:{base64.b64encode(signature).decode()}:"
        return body, headers

    # -- status, resend, keys, configuration --------------------------------------------------------------------

    def check(self, kind: str) -> Any:
        async def endpoint(request: Request) -> Response:
            if (refused := self._refused(request)) is not None:
                return refused
            record = self.records[kind].get(request.path_params["id"])
            if record is None:
                return JSONResponse({"status": "NOT_FOUND"})
            return JSONResponse({"status": "FOUND", "data": record})

        return endpoint

    def resend(self, kind: str) -> Any:
        async def endpoint(request: Request) -> Response:
            if (refused := self._refused(request)) is not None:
                return refused
            tx_id = request.path_params["id"]
            record = self.records[kind].get(tx_id)
            if record is None or record["status"] not in ("COMPLETED", "FAILED"):
                code = "NOT_FOUND" if record is None else "INVALID_STATE"
                return JSONResponse({f"{kind}Id": tx_id, "status": "REJECTED", "failureReason": {"failureCode": code}})
            self._later(self._deliver(kind, record))
            return JSONResponse({f"{kind}Id": tx_id, "status": "ACCEPTED"})

        return endpoint

    async def public_keys(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        return JSONResponse([{"id": KEY_ID, "key": self.public_pem}])

    async def active_conf(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        return JSONResponse(
            {
                "companyName": "Simulated Merchant",
                "signatureConfiguration": {"signedRequestsOnly": False, "signedCallbacks": True},
                "countries": [{"country": "BEN", "prefix": "229", "providers": [{"provider": p} for p in PROVIDERS]}],
            }
        )

    def _later(self, job: Any) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _failure(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"failureReason": {"failureCode": code, "failureMessage": message}}, status_code=status)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
