"""The Python SDK against a real Cauri server on a free port (both databases), and against a local server
that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from cauri_client import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    CauriError,
    Client,
    NotFoundError,
    Payment,
    Refund,
    ServerError,
    ValidationError,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.api.test_refunds import STAYS_PENDING, paid_payment
from tests.conftest import MerchantApp

CUSTOMER = {"email": "awa@example.com", "first_name": "Awa", "last_name": "Dossou"}


def order(client: Client, number: int) -> str:
    created = client.payments.initialize(
        amount=5000, currency="XOF", description=f"Order #{number}", return_url="https://shop.example/return",
        customer=CUSTOMER, metadata={"order_id": str(number)},
    )  # fmt: skip
    return created.id


def test_the_payment_flow_against_a_real_server(live_url: str, merchant: MerchantApp) -> None:
    with Client(merchant.secret, base_url=f"{live_url}/v1") as client:
        created = client.payments.initialize(
            amount=5000, currency="XOF", description="Order #42", return_url="https://shop.example/return",
            customer=CUSTOMER, metadata={"order_id": "42"},
        )  # fmt: skip
        assert created.checkout_url == f"{live_url}/checkout/{created.id}"
        verified = client.payments.verify(created.id)
        assert (verified.status, verified.amount, verified.currency) == ("initiated", 5000, "XOF")
        assert verified.metadata == {"order_id": "42"} and not verified.is_paid
        assert client.payments.retrieve(created.id).raw == verified.raw
        with pytest.raises(ValidationError) as unpaid:
            client.payments.process(created.id)
        assert unpaid.value.status == 422 and "status" in unpaid.value.errors
        with pytest.raises(NotFoundError):
            client.payments.verify("py_doesnotexist00")
        with pytest.raises(ValidationError) as invalid:
            client.payments.initialize(amount=10, currency="XOF", description="x", return_url="nope",
                                       customer={**CUSTOMER, "email": "not-an-email"})  # fmt: skip
        assert set(invalid.value.errors) == {"return_url", "customer.email"}


def test_list_pages_through_everything(live_url: str, merchant: MerchantApp) -> None:
    with Client(merchant.secret, base_url=f"{live_url}/v1") as client:
        ids = [order(client, n) for n in range(5)]
        listed = [p.id for p in client.payments.list(limit=2)]
        assert listed == list(reversed(ids))
        only = [p.id for p in client.payments.list(**{"metadata[order_id]": "3"})]
        assert only == [ids[3]]


def test_a_bad_key_is_an_authentication_error(live_url: str) -> None:
    with Client("pvk_sandbox_nope|nope", base_url=f"{live_url}/v1") as client, pytest.raises(AuthenticationError):
        client.payments.verify("py_x")


async def test_the_async_client(live_url: str, merchant: MerchantApp) -> None:
    async with AsyncClient(merchant.secret, base_url=f"{live_url}/v1") as client:
        created = await client.payments.initialize(
            amount=700, currency="XOF", description="Async", return_url="https://shop.example/r", customer=CUSTOMER
        )
        assert (await client.payments.verify(created.id)).amount == 700
        listed = [p.id async for p in client.payments.list(limit=1)]
        assert listed[0] == created.id and len(listed) >= 1


class Flaky:
    """Answers initialize with the given statuses in turn (then 201), recording each request's key."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.keys: list[str | None] = []

    async def initialize(self, request: Request) -> Response:
        self.keys.append(request.headers.get("idempotency-key"))
        if self.statuses:
            status = self.statuses.pop(0)
            headers = {"Retry-After": "0"} if status == 429 else None
            return JSONResponse({"success": False, "message": f"flaky {status}", "data": None, "errors": None},
                                status_code=status, headers=headers)  # fmt: skip
        return JSONResponse(
            {"success": True, "message": "ok", "data": {"id": "py_flaky", "checkout_url": "http://x/c"}}, 201
        )


@pytest.fixture
def flaky() -> Iterator[tuple[str, Flaky]]:
    state = Flaky([])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Starlette(routes=[Route("/v1/payments/initialize", state.initialize, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1", state
    server.should_exit = True
    thread.join(5)


def test_retries_reuse_one_idempotency_key(flaky: tuple[str, Flaky]) -> None:
    url, state = flaky
    state.statuses = [503, 429, 502]
    with Client("k", base_url=url, backoff=0.01) as client:
        created = client.payments.initialize(amount=1, currency="XOF", description="d", return_url="https://x/",
                                             customer=CUSTOMER)  # fmt: skip
    assert created.id == "py_flaky"
    assert len(state.keys) == 4 and len(set(state.keys)) == 1 and state.keys[0]


def test_retries_give_up_with_the_envelopes_error(flaky: tuple[str, Flaky]) -> None:
    url, state = flaky
    state.statuses = [500] * 10
    with Client("k", base_url=url, backoff=0.01, max_retries=2) as client, pytest.raises(ServerError) as failure:
        client.payments.initialize(amount=1, currency="XOF", description="d", return_url="https://x/",
                                   customer=CUSTOMER)  # fmt: skip
    assert failure.value.status == 500 and failure.value.message == "flaky 500"
    assert len(state.keys) == 3


def test_client_errors_are_not_retried(flaky: tuple[str, Flaky]) -> None:
    url, state = flaky
    state.statuses = [400]
    with Client("k", base_url=url, backoff=0.01) as client, pytest.raises(CauriError) as failure:
        client.payments.initialize(amount=1, currency="XOF", description="d", return_url="https://x/",
                                   customer=CUSTOMER)  # fmt: skip
    assert failure.value.status == 400 and len(state.keys) == 1


def test_an_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with Client("k", base_url=f"http://127.0.0.1:{port}/v1", backoff=0.01, max_retries=1, timeout=2) as client:
        with pytest.raises(APIConnectionError):
            client.payments.verify("py_x")


RECIPIENT_CUSTOMER = {"email": "kofi@example.com", "first_name": "Kofi", "last_name": "Mensah"}


def test_the_payout_flow_against_a_real_server(live_url: str, merchant: MerchantApp) -> None:
    with Client(merchant.secret, base_url=f"{live_url}/v1") as client:
        created = client.payouts.initialize(
            amount=500, currency="XOF", description="Supplier #7", method="mtn_bj", customer=RECIPIENT_CUSTOMER,
            recipient={"msisdn": "4149518163"}, metadata={"batch": "7"},
        )  # fmt: skip
        verified = client.payouts.verify(created.id)
        assert (verified.id, verified.status, verified.amount, verified.currency) == (created.id, "pending", 500, "XOF")
        assert verified.method == "mtn_bj" and verified.recipient == {"msisdn": "4149518163"}
        assert verified.metadata == {"batch": "7"} and not verified.is_final and not verified.is_paid_out
        assert client.payouts.retrieve(created.id).raw == verified.raw
        assert [p.id for p in client.payouts.list(limit=1, **{"metadata[batch]": "7"})] == [created.id]
        with pytest.raises(NotFoundError):
            client.payouts.verify("po_doesnotexist00")
        with pytest.raises(ValidationError) as invalid:
            client.payouts.initialize(amount=500, currency="XOF", description="x", method="mtn_bj",
                                      customer=RECIPIENT_CUSTOMER, recipient={"msisdn": "2335551234"})  # fmt: skip
        assert set(invalid.value.errors) == {"recipient.msisdn"}


async def test_the_async_clients_payouts(live_url: str, merchant: MerchantApp) -> None:
    async with AsyncClient(merchant.secret, base_url=f"{live_url}/v1") as client:
        ids = [
            (await client.payouts.initialize(
                amount=1, currency="USD", description=f"Demo {n}", method="moneroo_payout_demo",
                customer=RECIPIENT_CUSTOMER, recipient={"account_number": "4149518163"},
            )).id
            for n in range(3)
        ]  # fmt: skip
        assert [p.id async for p in client.payouts.list(limit=2)] == list(reversed(ids))
        assert (await client.payouts.verify(ids[0])).recipient == {"account_number": "4149518163"}
        assert (await client.payouts.retrieve(ids[1])).method == "moneroo_payout_demo"


async def test_refunds_through_both_clients(live_url: str, merchant: MerchantApp, engine: AsyncEngine) -> None:
    async with httpx.AsyncClient(base_url=live_url) as http:
        payment_id = await paid_payment(http, engine, merchant, amount=100, phone=STAYS_PENDING)

    def refund_synchronously() -> tuple[Refund, Payment]:
        with Client(merchant.secret, base_url=f"{live_url}/v1") as client:
            refund = client.payments.refund(payment_id, amount=30, reason="Returned")
            with pytest.raises(ValidationError) as too_much:
                client.payments.refund(payment_id, amount=71)
            assert set(too_much.value.errors) == {"amount"}
            return refund, client.payments.verify(payment_id)

    refund, payment = await asyncio.to_thread(refund_synchronously)
    assert (refund.amount, refund.status, refund.reason) == (30, "initiated", "Returned")
    assert payment.amount_refunded == 0 and [(r.id, r.status) for r in payment.refunds] == [(refund.id, "pending")]
    async with AsyncClient(merchant.secret, base_url=f"{live_url}/v1") as client:
        rest = await client.payments.refund(payment_id, idempotency_key="the-rest")
        assert rest.amount == 70 and rest.reason is None
        assert (await client.payments.refund(payment_id, idempotency_key="the-rest")).id == rest.id  # replayed
        assert [r.amount for r in (await client.payments.verify(payment_id)).refunds] == [30, 70]
        [balance] = await client.balances()
        assert (balance.currency, balance.collected, balance.refunded, balance.available) == ("XOF", 100, 100, 0)
    with Client(merchant.secret, base_url=f"{live_url}/v1") as sync:
        assert await asyncio.to_thread(sync.balances) == [balance]


def test_a_payment_paid_in_another_currency_shows_what_was_debited() -> None:
    from cauri_client import Payment

    base = {"id": "py_1", "status": "success", "amount": 100, "currency": {"code": "USD"}}
    converted = {"rate": "1550.25", "metadata": {"amount_debited": 155_025, "currency_debited": "NGN"}}
    paid = Payment.from_json({**base, "capture": {"identifier": "att_1", **converted}})
    assert (paid.amount, paid.currency, paid.amount_debited, paid.rate) == (100, "USD", (155_025, "NGN"), "1550.25")
    plain = Payment.from_json({**base, "capture": {"identifier": "att_1"}})
    assert plain.amount_debited is None and plain.rate is None
    assert Payment.from_json({**base, "capture": None}).amount_debited is None
