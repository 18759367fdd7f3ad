"""The FedaPay connector against its simulator over real HTTP on loopback: first the connector alone, then
through the gateway (the hosted checkout, the callback route, the reconciliation job)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.connectors import fedapay
from cauri.connectors.base import (
    ActionKind,
    AttemptRequest,
    CallbackRejected,
    CredentialsRefused,
    Outcome,
    PayoutRequest,
    ProviderAccount,
    ProviderUnavailable,
)
from cauri.connectors.fedapay import FedapayConnector
from cauri.connectors.providers import PROVIDERS
from cauri.connectors.registry import ConnectorRegistry
from cauri.domain.attempts import AttemptStatus
from cauri.domain.methods import CATALOGUE
from cauri.domain.payouts import PayoutStatus
from cauri.services.checkout import reconcile
from cauri.settings import Settings
from cauri.store.tables import attempts, events
from tests.api.test_payouts import payout_body
from tests.conftest import MerchantApp, new_merchant, payment_body, runtime_of, serving, uow
from tests.providers.accounts import PATIENT_LOCKS, stored_account
from tests.providers.fedapay_simulator import APPROVED, DECLINED, PENDING, SILENT, FedapaySimulator, signature

SECRET_KEY = "sk_sandbox_" + secrets.token_hex(12)
WEBHOOK_SECRET = "wh_sandbox_" + secrets.token_hex(12)
PAYOUT_WEBHOOK_SECRET = "wh_sandbox_" + secrets.token_hex(12)
CREDENTIALS = {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET,
               "payout_webhook_secret": PAYOUT_WEBHOOK_SECRET}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Fedapay:
    simulator: FedapaySimulator
    url: str


@pytest.fixture
def fedapay_sim() -> Iterator[Fedapay]:
    # Stalls just past the connector's 1 s timeout, so the tests' "timeouts" end quickly.
    simulator = FedapaySimulator(SECRET_KEY, WEBHOOK_SECRET, PAYOUT_WEBHOOK_SECRET, stall_seconds=1.3)
    port = free_port()
    with serving(simulator.app(), port) as url:
        yield Fedapay(simulator, url)


def account(url: str, account_id: str = "pa_fedapay1", **credentials: str) -> ProviderAccount:
    return ProviderAccount(account_id, "fedapay", {**CREDENTIALS, **credentials}, sandbox=True, base_url=url)


@pytest.fixture
async def connector(fedapay_sim: Fedapay) -> AsyncIterator[FedapayConnector]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(1.0)) as http:
        yield FedapayConnector(account(fedapay_sim.url), http)


def attempt_request(method: str = "mtn_bj", phone: str | None = "2290166000001") -> AttemptRequest:
    attempt_id = "att_" + secrets.token_hex(8)
    return AttemptRequest(attempt_id, "py_" + secrets.token_hex(6), CATALOGUE.payment_methods[method], 1500, "XOF",
                          phone)  # fmt: skip


def number(last8: str) -> str:
    """A Benin MTN number (the ten-digit plan) ending in a simulator test number."""
    return "22901" + last8


async def eventually(condition: Callable[[], Any], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


CALLBACK = "http://127.0.0.1:9/connectors/pa_fedapay1/callback"


# -- the connector alone ------------------------------------------------------------------------------------


def test_registered_and_hosts_follow_the_account() -> None:
    assert PROVIDERS["fedapay"] is FedapayConnector
    assert {"mtn_bj", "moov_bj", "mtn_ci", "moov_tg", "togocel"} <= FedapayConnector.payment_methods
    assert FedapayConnector.payment_methods <= set(CATALOGUE.payment_methods)
    assert FedapayConnector.payout_methods <= set(CATALOGUE.payout_methods)
    sandbox = FedapayConnector(ProviderAccount("pa_a", "fedapay", CREDENTIALS, sandbox=True))
    live = FedapayConnector(ProviderAccount("pa_b", "fedapay", CREDENTIALS, sandbox=False))
    assert sandbox._root == "https://sandbox-api.fedapay.com/v1"
    assert live._root == "https://api.fedapay.com/v1"
    assert live.name == "pa_b"


async def test_success_creates_sends_now_and_is_notified_by_a_signed_webhook(
    connector: FedapayConnector, fedapay_sim: Fedapay
) -> None:
    sim = fedapay_sim.simulator
    request = attempt_request(phone=number(APPROVED))
    started = await connector.start(request, CALLBACK)
    assert started.action.kind is ActionKind.CONFIRM_ON_PHONE
    transaction = sim.transactions[int(started.reference)]
    assert transaction["merchant_reference"] == request.attempt_id
    assert transaction["amount"] == 1500 and transaction["currency"] == {"iso": "XOF"}
    paths = [(method, path) for method, path, _ in sim.requests]
    assert paths == [("POST", "/v1/transactions"), ("POST", f"/v1/transactions/{started.reference}/token"),
                     ("POST", "/v1/mtn_open")]  # fmt: skip
    assert sim.requests[2][2]["phone_number"] == {"number": "+" + number(APPROVED), "country": "bj"}
    await eventually(lambda: sim.sent)
    _, body, headers = sim.sent[0]
    outcome = connector.parse_callback(body, headers)
    assert (outcome.attempt_id, outcome.status) == (request.attempt_id, AttemptStatus.SUCCESS)
    polled = await connector.fetch_status({"id": request.attempt_id, "provider_reference": started.reference})
    assert polled.status is AttemptStatus.SUCCESS
    # Found by merchant_reference only on an exact match: the search is loose, and finds it for a prefix too.
    prefix = {"id": request.attempt_id[:-1], "provider_reference": None}
    assert (await connector.fetch_status(prefix)).status is AttemptStatus.PENDING
    assert (await connector.fetch_status({**prefix, "id": request.attempt_id})).status is AttemptStatus.SUCCESS
    # A provider reference that names another attempt's transaction is not believed.
    other = {"id": "att_" + secrets.token_hex(8), "provider_reference": started.reference}
    assert (await connector.fetch_status(other)).status is AttemptStatus.PENDING


async def test_a_declined_payment_fails(connector: FedapayConnector, fedapay_sim: Fedapay) -> None:
    request = attempt_request(phone=number(DECLINED))
    await connector.start(request, CALLBACK)
    await eventually(lambda: fedapay_sim.simulator.sent)
    _, body, headers = fedapay_sim.simulator.sent[0]
    outcome = connector.parse_callback(body, headers)
    assert outcome.status is AttemptStatus.FAILED
    assert outcome.failure_code == "declined"
    assert outcome.attempt_id == request.attempt_id


async def test_pending_then_success_learnt_by_polling_only(connector: FedapayConnector, fedapay_sim: Fedapay) -> None:
    silent = attempt_request(phone=number(SILENT))
    stuck = attempt_request(phone=number(PENDING))
    silent_ref = (await connector.start(silent, CALLBACK)).reference
    stuck_ref = (await connector.start(stuck, CALLBACK)).reference
    first = await connector.fetch_status({"id": silent.attempt_id, "provider_reference": silent_ref})
    assert first.status is AttemptStatus.PENDING
    await eventually(lambda: fedapay_sim.simulator.transactions[int(silent_ref)]["status"] == "approved")
    later = await connector.fetch_status({"id": silent.attempt_id, "provider_reference": silent_ref})
    assert later.status is AttemptStatus.SUCCESS
    assert (await connector.fetch_status({"id": stuck.attempt_id, "provider_reference": stuck_ref})).status is (
        AttemptStatus.PENDING
    )
    await asyncio.sleep(0.2)
    assert fedapay_sim.simulator.sent == []  # neither was ever notified


async def test_forged_callbacks_are_refused(connector: FedapayConnector, fedapay_sim: Fedapay) -> None:
    request = attempt_request(phone=number(APPROVED))
    await connector.start(request, CALLBACK)
    await eventually(lambda: fedapay_sim.simulator.sent)
    _, body, headers = fedapay_sim.simulator.sent[0]
    now = int(time.time())
    tampered = body.replace(b'"approved"', b'"declined"')
    forgeries = [
        (tampered, headers),  # the body changed under a genuine signature
        (body, {"X-FEDAPAY-SIGNATURE": signature(body, SECRET_KEY, now)}),  # signed with the API key
        (body, {"X-FEDAPAY-SIGNATURE": signature(body, PAYOUT_WEBHOOK_SECRET, now)}),  # another webhook's secret
        (body, {}),
        (body, {"X-FEDAPAY-SIGNATURE": f"t={now}"}),
        (body, {"X-FEDAPAY-SIGNATURE": "s=" + headers["X-FEDAPAY-SIGNATURE"].split("s=")[1]}),
        (body, {"X-FEDAPAY-SIGNATURE": f"t={now},s=é" + "0" * 63}),  # non-ASCII must not crash the compare
    ]
    for forged_body, forged_headers in forgeries:
        with pytest.raises(CallbackRejected):
            connector.parse_callback(forged_body, {k.lower(): v for k, v in forged_headers.items()})


async def test_replayed_and_future_dated_callbacks_are_refused(
    connector: FedapayConnector, fedapay_sim: Fedapay, monkeypatch: pytest.MonkeyPatch
) -> None:
    await connector.start(attempt_request(phone=number(APPROVED)), CALLBACK)
    await eventually(lambda: fedapay_sim.simulator.sent)
    _, body, headers = fedapay_sim.simulator.sent[0]
    lowered = {k.lower(): v for k, v in headers.items()}
    assert connector.parse_callback(body, lowered).status is AttemptStatus.SUCCESS
    # The same capture replayed six minutes later, past FedaPay's 300 s tolerance.
    later = time.time() + 360
    monkeypatch.setattr(fedapay, "_now", lambda: later)
    with pytest.raises(CallbackRejected, match="stale"):
        connector.parse_callback(body, lowered)
    monkeypatch.undo()
    ahead = signature(body, WEBHOOK_SECRET, int(time.time()) + 3600)  # genuine key, a timestamp from the future
    with pytest.raises(CallbackRejected, match="stale"):
        connector.parse_callback(body, {"x-fedapay-signature": ahead})


async def test_out_of_order_and_foreign_events_change_nothing(
    connector: FedapayConnector, fedapay_sim: Fedapay
) -> None:
    sim = fedapay_sim.simulator
    sim.stale_webhook_after = True
    request = attempt_request(phone=number(APPROVED))
    await connector.start(request, CALLBACK)
    await eventually(lambda: len(sim.sent) == 2)
    outcomes = [connector.parse_callback(b, {k.lower(): v for k, v in h.items()}) for _, b, h in sim.sent]
    assert [o.status for o in outcomes] == [AttemptStatus.SUCCESS, AttemptStatus.PENDING]
    customer = orjson.dumps({"name": "customer.created", "object": "customer", "entity": {"id": 3}})
    header = {"x-fedapay-signature": signature(customer, WEBHOOK_SECRET, int(time.time()))}
    assert connector.parse_callback(customer, header).status is AttemptStatus.PENDING
    # Another integration's transaction on the same FedaPay account: authentic, acknowledged, applied to nothing.
    foreign = orjson.dumps({"name": "transaction.approved", "object": "transaction",
                            "entity": {"id": 7, "status": "approved", "merchant_reference": None}})  # fmt: skip
    foreign_header = {"x-fedapay-signature": signature(foreign, WEBHOOK_SECRET, int(time.time()))}
    assert connector.parse_callback(foreign, foreign_header) == Outcome("", AttemptStatus.PENDING)
    no_entity = {"name": "transaction.approved", "object": "transaction", "entity": "approved"}
    for signed_but_unreadable in (b"not json", b"[1]", orjson.dumps(no_entity)):
        header = {"x-fedapay-signature": signature(signed_but_unreadable, WEBHOOK_SECRET, int(time.time()))}
        with pytest.raises(CallbackRejected):
            connector.parse_callback(signed_but_unreadable, header)


async def test_unreachable_or_refusing_fedapay_fails_the_attempt_cleanly(fedapay_sim: Fedapay) -> None:
    async with httpx.AsyncClient(timeout=1.0) as http:
        down = FedapayConnector(account(f"http://127.0.0.1:{free_port()}"), http)
        with pytest.raises(ProviderUnavailable):
            await down.start(attempt_request(), CALLBACK)
        wrong_key = FedapayConnector(account(fedapay_sim.url, secret_key="sk_sandbox_wrong"), http)
        with pytest.raises(ProviderUnavailable):
            await wrong_key.start(attempt_request(), CALLBACK)
        assert fedapay_sim.simulator.unauthorized == 1
        connector = FedapayConnector(account(fedapay_sim.url), http)
        with pytest.raises(ProviderUnavailable):  # the operator refuses the number: nothing was asked
            await connector.start(attempt_request(phone="229"), CALLBACK)
        sent_now = len([r for r in fedapay_sim.simulator.requests if r[1] == "/v1/mtn_open"])
        for failure in ("500", "timeout"):
            fedapay_sim.simulator.fail_next("*/token", failure)
            with pytest.raises(ProviderUnavailable):  # no token: no one can pay this transaction
                await connector.start(attempt_request(), CALLBACK)
        assert len([r for r in fedapay_sim.simulator.requests if r[1] == "/v1/mtn_open"]) == sent_now


async def test_an_ambiguous_create_is_never_retried_and_is_found_by_its_merchant_reference(
    connector: FedapayConnector, fedapay_sim: Fedapay
) -> None:
    sim = fedapay_sim.simulator
    for kind in ("500", "timeout"):
        sim.fail_next("/v1/transactions", kind, after=True)  # FedaPay created it, the answer is lost
        request = attempt_request(phone=number(APPROVED))
        with pytest.raises(Exception) as raised:
            await connector.start(request, CALLBACK)
        assert not isinstance(raised.value, ProviderUnavailable)  # the attempt must stay pending
        creates = [r for r in sim.requests if r[:2] == ("POST", "/v1/transactions")]
        assert creates[-1][2]["merchant_reference"] == request.attempt_id
        # The reconciliation job knows no provider reference; it finds the transaction by ours (exactly).
        found = await connector.fetch_status({"id": request.attempt_id, "provider_reference": None})
        assert (found.attempt_id, found.status) == (request.attempt_id, AttemptStatus.PENDING)
    assert len([r for r in sim.requests if r[:2] == ("POST", "/v1/transactions")]) == 2  # one per attempt
    unknown = await connector.fetch_status({"id": "att_" + secrets.token_hex(8), "provider_reference": None})
    assert unknown.status is AttemptStatus.PENDING


async def test_a_send_now_that_times_out_stays_pending_and_the_webhook_settles_it(
    connector: FedapayConnector, fedapay_sim: Fedapay
) -> None:
    sim = fedapay_sim.simulator
    sim.fail_next("/v1/mtn_open", "timeout", after=True)
    request = attempt_request(phone=number(APPROVED))
    with pytest.raises(httpx.TimeoutException):
        await connector.start(request, CALLBACK)
    await eventually(lambda: sim.sent)
    _, body, headers = sim.sent[0]
    outcome = connector.parse_callback(body, {k.lower(): v for k, v in headers.items()})
    assert (outcome.attempt_id, outcome.status) == (request.attempt_id, AttemptStatus.SUCCESS)
    assert (await connector.fetch_status({"id": request.attempt_id, "provider_reference": None})).status is (
        AttemptStatus.SUCCESS
    )


async def test_cards_go_to_fedapay_hosted_page(connector: FedapayConnector, fedapay_sim: Fedapay) -> None:
    page = "https://pay.example.com/checkout/py_0123456789ab"
    request = dataclasses.replace(attempt_request("card_xof", phone=None), return_url=page)
    started = await connector.start(request, CALLBACK)
    assert started.action.kind is ActionKind.REDIRECT
    assert fedapay_sim.simulator.transactions[int(started.reference)]["callback_url"] == page  # back to checkout
    assert started.action.data["url"].startswith("https://")
    assert not any(path.endswith("mtn_open") for _, path, _ in fedapay_sim.simulator.requests)
    fedapay_sim.simulator.finish(int(started.reference), "approved")  # the customer paid on FedaPay's page
    await eventually(lambda: fedapay_sim.simulator.sent)
    _, body, headers = fedapay_sim.simulator.sent[0]
    assert connector.parse_callback(body, headers).status is AttemptStatus.SUCCESS


def payout_request(last8: str) -> PayoutRequest:
    payout_id = "po_" + secrets.token_hex(8)
    return PayoutRequest(payout_id, CATALOGUE.payout_methods["mtn_bj"], 2000, "XOF", {"msisdn": number(last8)})


async def test_payouts_are_created_sent_and_notified(connector: FedapayConnector, fedapay_sim: Fedapay) -> None:
    sim = fedapay_sim.simulator
    sent, failed = payout_request(APPROVED), payout_request(DECLINED)
    sent_ref = await connector.payout(sent, CALLBACK)
    failed_ref = await connector.payout(failed, CALLBACK)
    start = next(body for method, path, body in sim.requests if path == "/v1/payouts/start")
    assert start == {"payouts": [{"id": int(sent_ref), "phone_number": {"number": "+" + number(APPROVED),
                                                                        "country": "bj"}}]}  # fmt: skip
    await eventually(lambda: len(sim.sent) == 2)
    outcomes = {o.payout_id: o for o in (connector.parse_payout_callback(b, h) for _, b, h in sim.sent)}
    assert outcomes[sent.payout_id].status is PayoutStatus.SUCCESS
    assert outcomes[failed.payout_id].status is PayoutStatus.FAILED
    assert outcomes[failed.payout_id].failure_code == "RECIPIENT_REFUSED"
    polled = await connector.fetch_payout_status({"id": failed.payout_id, "provider_reference": failed_ref})
    assert polled.status is PayoutStatus.FAILED
    by_reference = await connector.fetch_payout_status({"id": sent.payout_id, "provider_reference": None})
    assert by_reference.status is PayoutStatus.SUCCESS
    # A payout notification signed with the transactions webhook's secret is not authentic.
    _, body, _ = sim.sent[0]
    with pytest.raises(CallbackRejected):
        connector.parse_payout_callback(body, {"x-fedapay-signature": signature(body, WEBHOOK_SECRET,
                                                                                 int(time.time()))})  # fmt: skip


async def test_a_payout_that_cannot_be_created_fails_but_an_ambiguous_start_stays_pending(
    connector: FedapayConnector, fedapay_sim: Fedapay
) -> None:
    sim = fedapay_sim.simulator
    sim.fail_next("/v1/payouts", "timeout", after=True)
    with pytest.raises(ProviderUnavailable):  # never started: no money can move
        await connector.payout(payout_request(APPROVED), CALLBACK)
    sim.fail_next("/v1/payouts/start", "500", after=True)
    request = payout_request(APPROVED)
    with pytest.raises(Exception) as raised:
        await connector.payout(request, CALLBACK)
    assert not isinstance(raised.value, ProviderUnavailable)
    await eventually(lambda: sim.sent)
    assert (await connector.fetch_payout_status({"id": request.payout_id})).status is PayoutStatus.SUCCESS


async def test_check_credentials(fedapay_sim: Fedapay) -> None:
    async with httpx.AsyncClient(timeout=1.0) as http:
        assert "accepted" in await FedapayConnector(account(fedapay_sim.url), http).check_credentials()
        with pytest.raises(CredentialsRefused):
            await FedapayConnector(account(fedapay_sim.url, secret_key="sk_sandbox_nope"), http).check_credentials()
        with pytest.raises(ProviderUnavailable):
            await FedapayConnector(account(f"http://127.0.0.1:{free_port()}"), http).check_credentials()


async def test_credentials_never_reach_the_logs(
    connector: FedapayConnector, fedapay_sim: Fedapay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = fedapay_sim.simulator
    request = attempt_request(phone=number(APPROVED))
    await connector.start(request, CALLBACK)
    await eventually(lambda: sim.sent)
    _, body, headers = sim.sent[0]
    connector.parse_callback(body, headers)
    with pytest.raises(CallbackRejected):
        connector.parse_callback(body + b" ", headers)
    sim.fail_next("/v1/transactions", "500")
    with pytest.raises(Exception):  # noqa: B017 - any error: what matters is what it logged
        await connector.start(attempt_request(), CALLBACK)
    await connector.check_credentials()
    assert caplog.records  # the HTTP client did log its requests
    for secret in (SECRET_KEY, WEBHOOK_SECRET, PAYOUT_WEBHOOK_SECRET):
        assert secret not in caplog.text


# -- through the gateway ------------------------------------------------------------------------------------


@dataclass
class LiveGateway:
    url: str
    simulator: FedapaySimulator
    #: The live app, and its stored FedaPay account (``pa_…``) that routing sends the app's payments to.
    merchant: MerchantApp
    account_id: str
    #: A registry for the reconciliation job run from the test (its own event loop): it finds the account stored.
    registry: ConnectorRegistry


@asynccontextmanager
async def live_gateway(
    settings: Settings, engine: AsyncEngine, fedapay_sim: Fedapay, *, payout_webhook: bool = False
) -> AsyncIterator[LiveGateway]:
    """A live gateway and a live app whose stored FedaPay account points at the simulator: payments reach the
    connector through routing, as they do in production. One webhook in FedaPay's dashboard takes every event
    (its secret is the account's ``webhook_secret``); with ``payout_webhook``, payouts have their own webhook,
    at the payout route, with its own secret (the account's ``payout_webhook_secret``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live_settings = settings.model_copy(update={"public_url": url, "port": port, "log_level": "warning",
                                                "reconcile_every_seconds": 3600.0, **PATIENT_LOCKS})  # fmt: skip
    merchant = await new_merchant(engine, live=True)
    sim = fedapay_sim.simulator
    stored = {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    if payout_webhook:
        stored["payout_webhook_secret"] = PAYOUT_WEBHOOK_SECRET
    account_id = await stored_account(live_settings, engine, merchant, "fedapay", stored, fedapay_sim.url)
    sim.webhook_url = f"{url}/connectors/{account_id}/callback"
    if payout_webhook:
        sim.payout_webhook_url = f"{url}/connectors/{account_id}/payouts/callback"
    else:
        sim.payout_webhook_url, sim.payout_webhook_secret = sim.webhook_url, WEBHOOK_SECRET
    runtime = runtime_of(live_settings, engine)
    with serving(create_app(live_settings), port):
        yield LiveGateway(url, sim, merchant, account_id, runtime.connectors)
    await runtime.connectors.close()


@pytest.fixture
async def fedapay_gateway(settings: Settings, engine: AsyncEngine, fedapay_sim: Fedapay) -> AsyncIterator[LiveGateway]:
    async with live_gateway(settings, engine, fedapay_sim) as gateway:
        yield gateway


async def pay_on_checkout(http: httpx.AsyncClient, merchant: MerchantApp, phone: str, amount: int = 1500) -> str:
    created = await http.post("/v1/payments/initialize", headers=merchant.headers,
                              json=payment_body(amount=amount, currency="XOF", methods=["mtn_bj"]))  # fmt: skip
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["data"]["id"]
    page = await http.get(f"/checkout/{payment_id}")
    assert page.status_code == 200 and "mtn_bj" in page.text
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    paid = await http.post(f"/checkout/{payment_id}/pay", data={"csrf": token, "method": "mtn_bj", "phone": phone})
    assert paid.status_code == 303, paid.text
    return payment_id


async def payment_status(http: httpx.AsyncClient, merchant: MerchantApp, payment_id: str) -> str:
    verify = await http.get(f"/v1/payments/{payment_id}/verify", headers=merchant.headers)
    return str(verify.json()["data"]["status"])


async def test_a_live_payment_is_paid_through_fedapay_and_its_webhook(
    fedapay_gateway: LiveGateway, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sim = fedapay_gateway.simulator
    sim.duplicate_webhooks = True
    sim.stale_webhook_after = True
    merchant = fedapay_gateway.merchant
    async with httpx.AsyncClient(base_url=fedapay_gateway.url, timeout=10) as http:
        payment_id = await pay_on_checkout(http, merchant, "01" + APPROVED)
        transaction = next(iter(sim.transactions.values()))
        assert transaction["mode"] == "mtn_open"
        assert transaction["custom_metadata"]["payment_id"] == payment_id
        await eventually(lambda: len(sim.answers) == 3, seconds=10)
        await eventually_async(lambda: payment_status(http, merchant, payment_id), "success")
        assert sim.answers == [200, 200, 200]  # the final event, its duplicate, the stale one: none retried
        # The duplicate and the stale webhook were answered, and applied nothing.
        replay = sim.sent[1]
        again = await http.post(f"/connectors/{fedapay_gateway.account_id}/callback", content=replay[1],
                                headers=replay[2])  # fmt: skip
        assert again.json() == {"received": True, "applied": False}
        forged = await http.post(f"/connectors/{fedapay_gateway.account_id}/callback", content=replay[1],
                                 headers={"X-FEDAPAY-SIGNATURE": signature(replay[1], SECRET_KEY,
                                                                           int(time.time()))})  # fmt: skip
        assert forged.status_code == 400
    async with engine.connect() as conn:
        kinds = (await conn.execute(select(events.c.type).where(events.c.payment_id == payment_id))).scalars().all()
        row = (await conn.execute(select(attempts).where(attempts.c.payment_id == payment_id))).one()
    assert list(kinds) == ["payment.initiated", "payment.success"]  # once, whatever the webhooks repeated
    assert row.connector == fedapay_gateway.account_id
    assert row.provider_reference == str(transaction["id"])
    assert transaction["merchant_reference"] == row.id
    for secret in (SECRET_KEY, WEBHOOK_SECRET):
        assert secret not in caplog.text


async def test_a_declined_live_payment_stays_open_for_another_try(
    fedapay_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    merchant = fedapay_gateway.merchant
    async with httpx.AsyncClient(base_url=fedapay_gateway.url, timeout=10) as http:
        payment_id = await pay_on_checkout(http, merchant, "01" + DECLINED)
        await eventually(lambda: fedapay_gateway.simulator.sent, seconds=10)
        async with engine.connect() as conn:
            await eventually_db(conn, payment_id, "failed")
        assert await payment_status(http, merchant, payment_id) == "pending"


async def test_a_live_payment_completed_by_polling_only(fedapay_gateway: LiveGateway, engine: AsyncEngine) -> None:
    sim = fedapay_gateway.simulator
    merchant = fedapay_gateway.merchant
    async with httpx.AsyncClient(base_url=fedapay_gateway.url, timeout=10) as http:
        payment_id = await pay_on_checkout(http, merchant, "01" + SILENT)
        await eventually(lambda: any(t["status"] == "approved" for t in sim.transactions.values()))
        assert sim.sent == []  # FedaPay never called back
        assert await payment_status(http, merchant, payment_id) == "pending"
        # The reconciliation job, which finds the stored account the attempt names.
        applied = await reconcile(uow(engine), fedapay_gateway.registry, older_than=timedelta(0),
                                  lease=timedelta(seconds=30))  # fmt: skip
        assert applied >= 1
        assert await payment_status(http, merchant, payment_id) == "success"


async def eventually_async(read: Callable[[], Any], expected: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while (value := await read()) != expected:
        assert time.monotonic() < deadline, f"still {value}"
        await asyncio.sleep(0.05)


async def eventually_db(conn: Any, payment_id: str, status: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    query = select(attempts.c.status).where(attempts.c.payment_id == payment_id)
    while (await conn.execute(query)).scalar_one() != status:
        assert time.monotonic() < deadline
        await conn.rollback()
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("payout_webhook", [False, True], ids=["one webhook", "a payout webhook"])
async def test_a_live_payout_is_sent_through_fedapay_and_its_webhook_applied_once(
    settings: Settings, engine: AsyncEngine, fedapay_sim: Fedapay, payout_webhook: bool
) -> None:
    async with live_gateway(settings, engine, fedapay_sim, payout_webhook=payout_webhook) as fedapay_gateway:
        await pay_out(fedapay_gateway, engine, payout_webhook)


def payout_webhooks(
    sent: list[tuple[str | None, bytes, dict[str, str]]],
) -> list[tuple[str | None, bytes, dict[str, str]]]:
    return [item for item in sent if str(orjson.loads(item[1]).get("name", "")).startswith("payout.")]


async def pay_out(fedapay_gateway: LiveGateway, engine: AsyncEngine, payout_webhook: bool) -> None:
    sim = fedapay_gateway.simulator
    sim.duplicate_webhooks = True
    merchant = fedapay_gateway.merchant
    async with httpx.AsyncClient(base_url=fedapay_gateway.url, headers=merchant.headers, timeout=10) as api:
        funded = await pay_on_checkout(api, merchant, "01" + APPROVED, amount=10000)  # a live balance to pay from
        await eventually_async(lambda: payment_status(api, merchant, funded), "success")
        sim.sent.clear()
        body = payout_body(amount=2000, currency="XOF", method="mtn_bj", recipient={"msisdn": number(APPROVED)})
        created = await api.post("/v1/payouts/initialize", json=body)
        assert created.status_code == 201, created.text
        payout_id = created.json()["data"]["id"]

        async def status() -> str:
            return str((await api.get(f"/v1/payouts/{payout_id}/verify")).json()["data"]["status"])

        # The payout's webhook, sent twice. (The funding payment's own duplicate may still arrive after the clear.)
        await eventually(lambda: len(payout_webhooks(sim.sent)) == 2, seconds=10)
        await eventually_async(status, "success")
    [payout] = sim.payouts.values()
    assert (payout["merchant_reference"], payout["amount"], payout["mode"]) == (payout_id, 2000, "mtn_open")
    async with engine.connect() as conn:
        kinds = (await conn.execute(select(events.c.type).where(events.c.payout_id == payout_id))).scalars().all()
    assert list(kinds).count("payout.success") == 1
    route = "/payouts/callback" if payout_webhook else "/callback"
    urls = {url for url, _, _ in payout_webhooks(sim.sent)}
    assert urls == {f"{fedapay_gateway.url}/connectors/{fedapay_gateway.account_id}{route}"}
    assert sim.answers[-2:] == [200, 200]


async def test_an_approved_transaction_reports_what_fedapay_collected(
    connector: FedapayConnector, fedapay_sim: Fedapay
) -> None:
    """The gateway compares a success's amount and currency with the payment's (``amount_mismatch`` otherwise):
    FedaPay's amounts are whole francs; one that is not cannot be the payment's and fails here."""
    request = attempt_request(phone=number(APPROVED))
    await connector.start(request, CALLBACK)
    await eventually(lambda: fedapay_sim.simulator.sent)
    _, body, _headers = fedapay_sim.simulator.sent[0]
    outcome = connector.parse_callback(body, {"x-fedapay-signature": signature(body, WEBHOOK_SECRET, int(time.time()))})
    assert (outcome.status, outcome.amount, outcome.currency) == (AttemptStatus.SUCCESS, 1500, "XOF")
    event = orjson.loads(body)
    for amount in (1499.5, "1500", True):
        odd = orjson.dumps({**event, "entity": {**event["entity"], "amount": amount}})
        signed = {"x-fedapay-signature": signature(odd, WEBHOOK_SECRET, int(time.time()))}
        failed = connector.parse_callback(odd, signed)
        assert (failed.status, failed.failure_code) == (AttemptStatus.FAILED, "amount_mismatch"), amount
