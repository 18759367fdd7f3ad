"""A FedaPay stand-in on loopback, following FedaPay's public documentation and official SDKs (the sources are
listed in ``cauri.connectors.fedapay``): the same paths under ``/v1``, the same Bearer authentication, objects
wrapped as ``{"v1/transaction": …}``, asynchronous outcomes, and webhooks signed as FedaPay signs them
(``X-FEDAPAY-SIGNATURE: t=<seconds>,s=<hex HMAC-SHA256 of "t.body">`` with the webhook's own secret).

FedaPay publishes no test numbers we could find, so the simulator states its own (by the number's last eight
digits): ``66000001`` approved, ``66000002`` declined, ``66000003`` stays pending, ``66000004`` approved
without any webhook (only polling can learn it). Payouts: ``66000002`` fails, any other number is sent.

On demand (``fail_next``): a 500 or a stall past the client's timeout, before the request acts or after it
(accepted, then the answer is lost); duplicate and out-of-order webhooks (``duplicate_webhooks``,
``stale_webhook_after``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

APPROVED, DECLINED, PENDING, SILENT = "66000001", "66000002", "66000003", "66000004"
MOBILE_MODES = {"mtn", "mtn_open", "moov", "mtn_ci", "mtn_open_ci", "moov_tg", "togocel", "airtel_ne", "free_sn",
                "mtn_ecw", "wave_direct_ci"}  # fmt: skip


@dataclass
class Failure:
    path: str  # the request path it applies to, "/v1/transactions", or a suffix: "*/token"
    kind: str  # "500" or "timeout"
    after: bool  # act first, then fail the answer (the ambiguous case)


@dataclass
class FedapaySimulator:
    secret_key: str
    webhook_secret: str
    payout_webhook_secret: str
    #: Where webhooks go (FedaPay's dashboard setting); None: only recorded in ``sent``.
    webhook_url: str | None = None
    payout_webhook_url: str | None = None
    delay: float = 0.05
    stall_seconds: float = 3.0
    duplicate_webhooks: bool = False
    #: Send an older ``transaction.updated`` (status pending) after the final event.
    stale_webhook_after: bool = False
    transactions: dict[int, dict[str, Any]] = field(default_factory=dict)
    payouts: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    #: Every webhook signed: (url or None, body, headers).
    sent: list[tuple[str | None, bytes, dict[str, str]]] = field(default_factory=list)
    #: Every authenticated request: (method, path, JSON body or None).
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    #: The status each webhook delivery was answered with (FedaPay retries what is not 2xx).
    answers: list[int] = field(default_factory=list)
    unauthorized: int = 0
    failures: list[Failure] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def fail_next(self, path: str, kind: str = "500", *, after: bool = False) -> None:
        self.failures.append(Failure(path, kind, after))

    # -- the app --------------------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/transactions", self.create_transaction, methods=["POST"]),
                Route("/v1/transactions/search", self.search_transactions, methods=["GET"]),
                Route("/v1/transactions/{id:int}", self.get_transaction, methods=["GET"]),
                Route("/v1/transactions/{id:int}/token", self.token, methods=["POST"]),
                Route("/v1/payouts", self.create_payout, methods=["POST"]),
                Route("/v1/payouts/start", self.start_payouts, methods=["PUT"]),
                Route("/v1/payouts/search", self.search_payouts, methods=["GET"]),
                Route("/v1/payouts/{id:int}", self.get_payout, methods=["GET"]),
                Route("/v1/balances", self.balances, methods=["GET"]),
                Route("/v1/{mode}", self.send_now, methods=["POST"]),
            ]
        )

    async def _guard(self, request: Request) -> tuple[Any, Response | None, Failure | None]:
        """Bearer authentication, the body, and any failure asked for on this path."""
        authorization = request.headers.get("authorization", "")
        if not hmac.compare_digest(authorization.encode(), f"Bearer {self.secret_key}".encode()):
            self.unauthorized += 1
            return None, JSONResponse({"message": "Unauthenticated."}, status_code=401), None
        raw = await request.body()
        if raw and request.headers.get("content-type") != "application/json":
            return None, JSONResponse({"message": "Unsupported Media Type"}, status_code=415), None
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return None, JSONResponse({"message": "Invalid JSON"}, status_code=400), None
        self.requests.append((request.method, request.url.path, body))
        failure = next((f for f in self.failures if _matches(f.path, request.url.path)), None)
        if failure is not None:
            self.failures.remove(failure)
            if not failure.after:
                return body, await self._fail(failure), None
        return body, None, failure

    async def _fail(self, failure: Failure) -> Response:
        if failure.kind == "timeout":
            await asyncio.sleep(self.stall_seconds)
        return JSONResponse({"message": "Server Error"}, status_code=500)

    async def _answer(self, payload: Any, failure: Failure | None, status_code: int = 200) -> Response:
        if failure is not None:
            return await self._fail(failure)
        return JSONResponse(payload, status_code=status_code)

    # -- transactions ---------------------------------------------------------------------------------------

    async def create_transaction(self, request: Request) -> Response:
        body, refused, failure = await self._guard(request)
        if refused:
            return refused
        amount = body.get("amount")
        if not isinstance(amount, int) or amount <= 0 or not body.get("description"):
            return JSONResponse({"message": "Invalid transaction", "errors": {"amount": ["invalid"]}}, 422)
        if (body.get("currency") or {}).get("iso") != "XOF":
            return JSONResponse({"message": "Invalid currency"}, status_code=422)
        transaction_id = next(self._ids)
        now = _now()
        transaction = {
            "klass": "v1/transaction", "id": transaction_id, "reference": f"trx_{secrets.token_hex(4)}",
            "amount": amount, "description": body["description"], "callback_url": body.get("callback_url"),
            "status": "pending", "mode": body.get("mode"), "merchant_reference": body.get("merchant_reference"),
            "custom_metadata": body.get("custom_metadata") or {}, "currency": {"iso": "XOF"},
            "customer": body.get("customer") or {}, "last_error_code": None, "created_at": now, "updated_at": now,
            "approved_at": None, "declined_at": None, "canceled_at": None,
        }  # fmt: skip
        self.transactions[transaction_id] = transaction
        return await self._answer({"v1/transaction": transaction}, failure, 201)

    async def get_transaction(self, request: Request) -> Response:
        _, refused, failure = await self._guard(request)
        if refused:
            return refused
        transaction = self.transactions.get(request.path_params["id"])
        if transaction is None:
            return JSONResponse({"message": "Transaction not found"}, status_code=404)
        return await self._answer({"v1/transaction": transaction}, failure)

    async def search_transactions(self, request: Request) -> Response:
        _, refused, failure = await self._guard(request)
        if refused:
            return refused
        found = _search(self.transactions.values(), request.query_params.get("search", ""))
        return await self._answer({"v1/transactions": found, "meta": {"current_page": 1}}, failure)

    async def token(self, request: Request) -> Response:
        _, refused, failure = await self._guard(request)
        if refused:
            return refused
        transaction = self.transactions.get(request.path_params["id"])
        if transaction is None:
            return JSONResponse({"message": "Transaction not found"}, status_code=404)
        token = secrets.token_urlsafe(16)
        self.tokens[token] = transaction["id"]
        # The hosted page's address is FedaPay's own (the simulator does not serve it).
        payload = {"token": token, "url": f"https://sandbox-process.fedapay.com/{token}"}
        return await self._answer(payload, failure)

    async def send_now(self, request: Request) -> Response:
        body, refused, failure = await self._guard(request)
        if refused:
            return refused
        mode = request.path_params["mode"]
        if mode not in MOBILE_MODES:
            return JSONResponse({"message": "Not found"}, status_code=404)
        transaction_id = self.tokens.pop((body or {}).get("token", ""), None)
        if transaction_id is None:
            return JSONResponse({"message": "Invalid token"}, status_code=422)
        number = ((body or {}).get("phone_number") or {}).get("number", "")
        if not isinstance(number, str) or len(number.lstrip("+")) < 8 or not number.lstrip("+").isdigit():
            return JSONResponse({"message": "Invalid phone number"}, status_code=422)
        transaction = self.transactions[transaction_id]
        transaction["mode"] = mode
        self._later(self._settle(transaction, number[-8:]))
        return await self._answer({"message": "success", "reference": transaction["reference"]}, failure)

    async def _settle(self, transaction: dict[str, Any], number: str) -> None:
        """The customer's answer on the handset, a moment later, then FedaPay's webhooks."""
        await asyncio.sleep(self.delay)
        if number == PENDING:
            return
        status = "declined" if number == DECLINED else "approved"
        self.finish(transaction["id"], status, notify=number != SILENT)

    def finish(self, transaction_id: int, status: str, *, notify: bool = True) -> None:
        """End a transaction (the customer paid on the handset or on the hosted page) and notify it."""
        transaction = self.transactions[transaction_id]
        before = dict(transaction)
        transaction["status"] = status
        transaction["updated_at"] = transaction[f"{status}_at"] = _now()
        if status == "declined":
            transaction["last_error_code"] = "DECLINED"
        if notify:
            self._later(self._notify_transaction(transaction, before))

    async def _notify_transaction(self, transaction: dict[str, Any], before: dict[str, Any]) -> None:
        final = {"name": f"transaction.{transaction['status']}", "object": "transaction", "entity": transaction}
        await self.deliver(self.webhook_url, self.webhook_secret, final)
        if self.duplicate_webhooks:
            await self.deliver(self.webhook_url, self.webhook_secret, final)
        if self.stale_webhook_after:
            stale = {"name": "transaction.updated", "object": "transaction", "entity": before}
            await self.deliver(self.webhook_url, self.webhook_secret, stale)

    # -- payouts --------------------------------------------------------------------------------------------

    async def create_payout(self, request: Request) -> Response:
        body, refused, failure = await self._guard(request)
        if refused:
            return refused
        amount = body.get("amount")
        if not isinstance(amount, int) or amount <= 0 or not body.get("mode"):
            return JSONResponse({"message": "Invalid payout"}, status_code=422)
        payout_id = next(self._ids)
        now = _now()
        payout = {
            "klass": "v1/payout", "id": payout_id, "reference": f"po_{secrets.token_hex(4)}", "amount": amount,
            "status": "pending", "mode": body["mode"], "merchant_reference": body.get("merchant_reference"),
            "custom_metadata": body.get("custom_metadata") or {}, "customer": body.get("customer") or {},
            "last_error_code": None, "created_at": now, "updated_at": now, "sent_at": None, "failed_at": None,
        }  # fmt: skip
        self.payouts[payout_id] = payout
        return await self._answer({"v1/payout": payout}, failure, 201)

    async def start_payouts(self, request: Request) -> Response:
        body, refused, failure = await self._guard(request)
        if refused:
            return refused
        items = (body or {}).get("payouts")
        if not isinstance(items, list) or not items:
            return JSONResponse({"message": "payouts required"}, status_code=422)
        started = []
        for item in items:
            payout = self.payouts.get(item.get("id"))
            if payout is None or payout["status"] != "pending":
                return JSONResponse({"message": "Payout cannot be started"}, status_code=422)
            payout["status"] = "started"
            number = (item.get("phone_number") or payout["customer"].get("phone_number") or {}).get("number", "")
            self._later(self._send_payout(payout, number[-8:]))
            started.append(payout)
        return await self._answer({"payouts": started}, failure)

    async def _send_payout(self, payout: dict[str, Any], number: str) -> None:
        await asyncio.sleep(self.delay)
        payout["status"] = "failed" if number == DECLINED else "sent"
        payout["updated_at"] = payout[f"{payout['status']}_at"] = _now()
        if payout["status"] == "failed":
            payout["last_error_code"] = "RECIPIENT_REFUSED"
        event = {"name": f"payout.{payout['status']}", "object": "payout", "entity": payout}
        await self.deliver(self.payout_webhook_url, self.payout_webhook_secret, event)
        if self.duplicate_webhooks:
            await self.deliver(self.payout_webhook_url, self.payout_webhook_secret, event)

    async def get_payout(self, request: Request) -> Response:
        _, refused, failure = await self._guard(request)
        if refused:
            return refused
        payout = self.payouts.get(request.path_params["id"])
        if payout is None:
            return JSONResponse({"message": "Payout not found"}, status_code=404)
        return await self._answer({"v1/payout": payout}, failure)

    async def search_payouts(self, request: Request) -> Response:
        _, refused, failure = await self._guard(request)
        if refused:
            return refused
        found = _search(self.payouts.values(), request.query_params.get("search", ""))
        return await self._answer({"v1/payouts": found, "meta": {"current_page": 1}}, failure)

    async def balances(self, request: Request) -> Response:
        _, refused, failure = await self._guard(request)
        if refused:
            return refused
        balance = {"klass": "v1/balance", "id": 1, "amount": 0, "mode": "mtn_open"}
        return await self._answer({"v1/balances": [balance]}, failure)

    # -- webhooks -------------------------------------------------------------------------------------------

    async def deliver(self, url: str | None, secret: str, event: dict[str, Any]) -> None:
        body = orjson.dumps(event)
        headers = {"X-FEDAPAY-SIGNATURE": signature(body, secret, int(time.time())),
                   "Content-Type": "application/json"}  # fmt: skip
        self.sent.append((url, body, headers))
        if url is None:
            return
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                self.answers.append((await client.post(url, content=body, headers=headers)).status_code)
        except httpx.HTTPError:
            self.answers.append(0)  # FedaPay retries later; a test asks reconciliation instead

    def _later(self, job: Any) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """FedaPay's header value, written here from the SDKs' ``WebhookSignature`` (not the connector's code)."""
    payload = f"{timestamp}.".encode() + body
    return f"t={timestamp},s={hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()}"


def _matches(pattern: str, path: str) -> bool:
    """``/v1/transactions`` exactly, or ``*/token`` for any path ending so."""
    return path.endswith(pattern[1:]) if pattern.startswith("*") else path == pattern


def _search(items: Any, query: str) -> list[dict[str, Any]]:
    """A loose text search, as a search endpoint is: callers must keep only exact matches themselves."""
    if not query:
        return list(items)
    return [i for i in items if query in str(i.get("merchant_reference")) or query in str(i.get("reference"))]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
