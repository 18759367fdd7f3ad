"""A Paystack stand-in on loopback, following Paystack's public documentation (see the connector's docstring):
the same paths, Bearer authentication with the secret key, amounts in subunits, references checked as Paystack
documents them, a hosted payment page that sends the customer back to ``callback_url``, asynchronous outcomes,
and webhooks signed as Paystack signs them (HMAC-SHA512 of the raw body, keyed with the secret key, hex in
``x-paystack-signature``), sent for successes only.

Outcomes are decided by test numbers (this simulator's table, in the spirit of Paystack's test payments page):
the card ``4084084084084081`` pays and ``4084080000000409`` is declined; the mobile money numbers below succeed,
fail, or stay pending. Faults on demand: ``fail_next(path, status)`` answers the next calls on a path with a
5xx, ``stall_next(path)`` answers only after the client's timeout, ``refuse_connections`` is left to the test
(a closed port). ``webhook_url`` None records the webhooks without sending them; ``duplicate_webhooks`` sends
each twice; ``deliver(...)`` sends a recorded one again, in any order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

#: Paystack's documented test card that pays, and the one this simulator declines.
PAYING_CARD = "4084084084084081"
DECLINED_CARD = "4084080000000409"
#: Mobile money numbers (as Paystack receives them: Ghana local, Kenya international) and what they do.
PHONE_OUTCOMES = {
    "0551234987": "success",
    "0551234986": "failed",
    "0551234985": "pending",
    "254710000000": "success",
}
#: Transfer recipients' numbers and how their transfers end.
TRANSFER_OUTCOMES = {"0551234987": "success", "0551234986": "failed"}
#: Paystack's transaction references: ``-``, ``.``, ``=`` and alphanumerics; transfers': lowercase, ``-`` and ``_``.
TRANSACTION_REFERENCE = re.compile(r"[-.=a-zA-Z0-9]{1,100}")
TRANSFER_REFERENCE = re.compile(r"[a-z0-9_-]{16,100}")
MOBILE_PROVIDERS = {"GHS": {"mtn", "atl", "vod"}, "KES": {"mpesa"}, "XOF": {"mtn", "orange", "wave"}}


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    answers: list[int] = field(default_factory=list)


@dataclass
class PaystackSimulator:
    secret_key: str
    base_url: str = ""  # set once served
    webhook_url: str | None = None
    webhook_delay: float = 0.05
    duplicate_webhooks: bool = False
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipients: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[int, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    #: Every request as received: (method, path, body) — the tests read what the connector sent.
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    _faults: dict[str, list[int | str]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # -- faults and helpers the tests use ---------------------------------------------------------------------

    def fail_next(self, path: str, status: int = 500, times: int = 1) -> None:
        self._faults.setdefault(path, []).extend([status] * times)

    def stall_next(self, path: str, times: int = 1) -> None:
        self._faults.setdefault(path, []).extend(["stall"] * times)

    def sign(self, body: bytes) -> str:
        return hmac.new(self.secret_key.encode(), body, hashlib.sha512).hexdigest()

    def event(self, name: str, data: dict[str, Any]) -> Delivery:
        body = orjson.dumps({"event": name, "data": data})
        return Delivery(body, {"x-paystack-signature": self.sign(body), "content-type": "application/json"})

    async def deliver(self, delivery: Delivery) -> int:
        """POST a webhook to ``webhook_url`` as Paystack does; its HTTP status (0 when nobody answered)."""
        if self.webhook_url is None:
            return 0
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                answer = await client.post(self.webhook_url, content=delivery.body, headers=delivery.headers)
        except httpx.HTTPError:
            delivery.answers.append(0)
            return 0
        delivery.answers.append(answer.status_code)
        return answer.status_code

    def settle(self, reference: str, status: str) -> None:
        """The customer finished outside the page (transfer made, USSD dialled, phone approved): the outcome is
        recorded, and a success is notified."""
        transaction = self.transactions[reference]
        transaction["status"] = status
        transaction["gateway_response"] = "Approved" if status == "success" else "Declined"
        if status == "success":
            self._notify("charge.success", self._transaction_view(transaction))

    # -- the app ----------------------------------------------------------------------------------------------

    def app(self) -> Starlette:
        routes = [
            Route("/transaction/initialize", self.initialize, methods=["POST"]),
            Route("/transaction/verify/{reference}", self.verify, methods=["GET"]),
            Route("/charge", self.charge, methods=["POST"]),
            Route("/transferrecipient", self.create_recipient, methods=["POST"]),
            Route("/transfer", self.transfer, methods=["POST"]),
            Route("/transfer/verify/{reference}", self.verify_transfer, methods=["GET"]),
            Route("/refund", self.refund, methods=["POST"]),
            Route("/refund/{id:int}", self.fetch_refund, methods=["GET"]),
            Route("/balance", self.balance, methods=["GET"]),
            Route("/pay/{access_code}", self.page, methods=["GET"]),
            Route("/pay/{access_code}", self.pay, methods=["POST"]),
        ]
        return Starlette(routes=routes)

    async def _guard(self, request: Request) -> tuple[Response | None, dict[str, Any]]:
        """Bearer authentication, the faults asked for, and the JSON body."""
        raw = await request.body()
        body: dict[str, Any] = {}
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return _error(400, "Invalid JSON"), {}
        self.requests.append((request.method, request.url.path, body))
        self.authorizations.append(request.headers.get("authorization", ""))
        template = next((p for p in self._faults if request.url.path.startswith(p) and self._faults[p]), None)
        if template is not None:
            fault = self._faults[template].pop(0)
            if fault == "stall":
                await asyncio.sleep(3)
            else:
                return _error(int(fault), "Server error"), body
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.secret_key}".encode()):
            return _error(401, "Invalid key"), body
        return None, body

    async def initialize(self, request: Request) -> Response:
        refused, body = await self._guard(request)
        if refused:
            return refused
        problem = self._transaction_problem(body)
        if problem:
            return _error(400, problem)
        access_code = secrets.token_hex(8)
        transaction = self._new_transaction(body, "card", status="abandoned")
        transaction["access_code"] = access_code
        transaction["callback_url"] = body.get("callback_url") or ""
        url = f"{self.base_url}/pay/{access_code}"
        return _ok("Authorization URL created", {"authorization_url": url, "access_code": access_code,
                                                 "reference": transaction["reference"]})  # fmt: skip

    async def page(self, request: Request) -> Response:
        transaction = self._by_access_code(request.path_params["access_code"])
        if transaction is None:
            return HTMLResponse("Unknown transaction", status_code=404)
        return HTMLResponse(
            f"<form method=post><p>Pay {transaction['currency']} {transaction['amount']} (subunits)</p>"
            "<input name=card_number><button>Pay</button></form>"
        )

    async def pay(self, request: Request) -> Response:
        """The hosted page's form: the card decides, then the customer is sent back to ``callback_url``."""
        transaction = self._by_access_code(request.path_params["access_code"])
        if transaction is None or transaction["status"] != "abandoned":
            return HTMLResponse("This transaction cannot be paid", status_code=400)
        form = dict(parse_qsl((await request.body()).decode()))  # the page's one urlencoded field
        card = "".join(c for c in form.get("card_number", "") if c.isdigit())
        self.settle(transaction["reference"], "success" if card == PAYING_CARD else "failed")
        reference = transaction["reference"]
        back = transaction["callback_url"]
        separator = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{separator}trxref={reference}&reference={reference}", status_code=302)

    async def verify(self, request: Request) -> Response:
        refused, _ = await self._guard(request)
        if refused:
            return refused
        transaction = self.transactions.get(request.path_params["reference"])
        if transaction is None:
            return _error(404, "Transaction reference not found")
        return _ok("Verification successful", self._transaction_view(transaction))

    async def charge(self, request: Request) -> Response:
        refused, body = await self._guard(request)
        if refused:
            return refused
        problem = self._transaction_problem(body)
        if problem:
            return _error(400, problem)
        if "mobile_money" in body:
            mobile = body["mobile_money"] or {}
            providers = MOBILE_PROVIDERS.get(body.get("currency", "NGN"), set())
            if mobile.get("provider") not in providers or not str(mobile.get("phone") or "").isdigit():
                return _error(400, "Invalid mobile money details")
            transaction = self._new_transaction(body, "mobile_money")
            outcome = PHONE_OUTCOMES.get(mobile["phone"], "pending")
            if outcome != "pending":
                self._later(lambda: self.settle(transaction["reference"], outcome))
            return _ok("Charge attempted", {"reference": transaction["reference"], "status": "pay_offline",
                                            "display_text": "Please complete authorization process on your "
                                                            "mobile phone"})  # fmt: skip
        if "bank_transfer" in body:
            if body.get("currency", "NGN") != "NGN":
                return _error(400, "Pay with transfer is for NGN")
            transaction = self._new_transaction(body, "bank_transfer")
            return _ok("Charge attempted", {
                "reference": transaction["reference"], "status": "pending_bank_transfer",
                "display_text": "Please make a transfer to the account specified",
                "account_name": "TEST-MANAGED-ACCOUNT", "account_number": "1260257501",
                "bank": {"slug": "test-bank", "name": "Test Bank", "id": 24},
                "account_expires_at": "2030-01-01T00:00:00.000Z",
            })  # fmt: skip
        if "ussd" in body:
            if (body["ussd"] or {}).get("type") not in {"737", "919", "822", "966"}:
                return _error(400, "Invalid USSD type")
            transaction = self._new_transaction(body, "ussd")
            code = f"*{body['ussd']['type']}*33*4*{transaction['id'] % 100000}#"
            return _ok("Charge attempted", {"reference": transaction["reference"], "status": "pay_offline",
                                            "display_text": f"Please dial {code} on your mobile phone",
                                            "ussd_code": code})  # fmt: skip
        return _error(400, "Charge channel not supported")

    async def create_recipient(self, request: Request) -> Response:
        refused, body = await self._guard(request)
        if refused:
            return refused
        missing = [k for k in ("type", "name", "account_number", "bank_code") if not body.get(k)]
        if missing:
            return _error(400, f"{missing[0]} is required")
        if body["type"] == "mobile_money" and body["bank_code"] not in {"MTN", "ATL", "VOD"}:
            return _error(400, "Invalid bank code")
        key = f"{body['bank_code']}:{body['account_number']}"  # a duplicate account returns the existing record
        recipient = self.recipients.setdefault(
            key, {**body, "recipient_code": f"RCP_{secrets.token_hex(6)}", "id": len(self.recipients) + 1}
        )
        return _ok("Transfer recipient created successfully", recipient, status=201)

    async def transfer(self, request: Request) -> Response:
        refused, body = await self._guard(request)
        if refused:
            return refused
        reference = str(body.get("reference") or "")
        if not TRANSFER_REFERENCE.fullmatch(reference):
            return _error(400, "Invalid transfer reference")
        if reference in self.transfers:
            return _error(400, "Duplicate Transfer Reference")
        recipient = next((r for r in self.recipients.values() if r["recipient_code"] == body.get("recipient")), None)
        if recipient is None or not isinstance(body.get("amount"), int) or body["amount"] <= 0:
            return _error(400, "Invalid transfer")
        transfer = {
            "reference": reference, "amount": body["amount"], "currency": body.get("currency", "NGN"),
            "status": "pending", "transfer_code": f"TRF_{secrets.token_hex(6)}", "recipient": recipient,
            "id": len(self.transfers) + 1, "source": "balance", "reason": body.get("reason", ""),
        }  # fmt: skip
        self.transfers[reference] = transfer
        outcome = TRANSFER_OUTCOMES.get(recipient["account_number"], "pending")
        if outcome != "pending":
            self._later(lambda: self._end_transfer(reference, outcome))
        return _ok("Transfer has been queued", {k: v for k, v in transfer.items() if k != "recipient"})

    def _end_transfer(self, reference: str, status: str) -> None:
        transfer = self.transfers[reference]
        transfer["status"] = status
        self._notify(f"transfer.{status}", dict(transfer))

    async def verify_transfer(self, request: Request) -> Response:
        refused, _ = await self._guard(request)
        if refused:
            return refused
        transfer = self.transfers.get(request.path_params["reference"])
        if transfer is None:
            return _error(404, "Transfer not found")
        return _ok("Transfer retrieved", transfer)

    async def refund(self, request: Request) -> Response:
        refused, body = await self._guard(request)
        if refused:
            return refused
        transaction = self.transactions.get(str(body.get("transaction") or ""))
        if transaction is None or transaction["status"] != "success":
            return _error(400, "Transaction has not been paid")
        amount = body.get("amount", transaction["amount"])
        if not isinstance(amount, int) or not 0 < amount <= transaction["amount"]:
            return _error(400, "Refund amount cannot be more than the transaction amount")
        refund_id = 3018284 + len(self.refunds)
        refund = {
            "id": refund_id, "transaction_reference": transaction["reference"], "amount": amount,
            "currency": transaction["currency"], "status": "pending", "merchant_note": body.get("merchant_note", ""),
        }  # fmt: skip
        self.refunds[refund_id] = refund
        self._later(lambda: self._end_refund(refund_id))
        return _ok("Refund has been queued for processing", refund)

    def _end_refund(self, refund_id: int) -> None:
        refund = self.refunds[refund_id]
        refund["status"] = "processed"
        # As documented: the event names the transaction and the processor's reference, not the refund's id.
        self._notify("refund.processed", {
            "status": "processed", "transaction_reference": refund["transaction_reference"],
            "refund_reference": secrets.token_hex(6), "amount": str(refund["amount"]), "currency": refund["currency"],
        })  # fmt: skip

    async def fetch_refund(self, request: Request) -> Response:
        refused, _ = await self._guard(request)
        if refused:
            return refused
        refund = self.refunds.get(request.path_params["id"])
        if refund is None:
            return _error(404, "Refund not found")
        return _ok("Refund retrieved", refund)

    async def balance(self, request: Request) -> Response:
        refused, _ = await self._guard(request)
        if refused:
            return refused
        return _ok("Balances retrieved", [{"currency": "NGN", "balance": 0}, {"currency": "GHS", "balance": 0}])

    # -- internals --------------------------------------------------------------------------------------------

    def _transaction_problem(self, body: dict[str, Any]) -> str | None:
        if not body.get("email") or "@" not in str(body["email"]):
            return "Invalid Email Address Passed"
        if not isinstance(body.get("amount"), int) or body["amount"] <= 0:
            return "Invalid Amount Sent"
        reference = str(body.get("reference") or "")
        if not TRANSACTION_REFERENCE.fullmatch(reference):
            return "Invalid transaction reference"
        if reference in self.transactions:
            return "Duplicate Transaction Reference"
        return None

    def _new_transaction(self, body: dict[str, Any], channel: str, status: str = "pending") -> dict[str, Any]:
        transaction = {
            "id": 4099260516 + len(self.transactions), "reference": body["reference"], "amount": body["amount"],
            "currency": body.get("currency", "NGN"), "status": status, "channel": channel,
            "gateway_response": "", "metadata": body.get("metadata") or "", "email": body["email"],
        }  # fmt: skip
        self.transactions[body["reference"]] = transaction
        return transaction

    def _by_access_code(self, code: str) -> dict[str, Any] | None:
        return next((t for t in self.transactions.values() if t.get("access_code") == code), None)

    def _transaction_view(self, transaction: dict[str, Any]) -> dict[str, Any]:
        hidden = {"access_code", "callback_url", "email"}
        return {**{k: v for k, v in transaction.items() if k not in hidden},
                "customer": {"email": transaction["email"]}}  # fmt: skip

    def _notify(self, name: str, data: dict[str, Any]) -> None:
        delivery = self.event(name, data)
        self.deliveries.append(delivery)
        for _ in range(2 if self.duplicate_webhooks else 1):
            self._spawn(self.deliver(delivery))

    def _later(self, settle: Any) -> None:
        async def run() -> None:
            await asyncio.sleep(self.webhook_delay)
            settle()

        self._spawn(run())

    def _spawn(self, job: Any) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _ok(message: str, data: Any, status: int = 200) -> Response:
    return JSONResponse({"status": True, "message": message, "data": data}, status_code=status)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"status": False, "message": message}, status_code=status)
