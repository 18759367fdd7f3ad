"""The pawaPay connector against its simulator over real HTTP on loopback: deposits, payouts, refunds, signed
callbacks (forged, replayed, duplicated, out of order), polling, 5xx and timeouts; then a live payment paid
end to end through the gateway's API, checkout and callback route."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.connectors.base import (
    ActionKind,
    AttemptRequest,
    CallbackRejected,
    CredentialsRefused,
    PayoutRequest,
    ProviderAccount,
    ProviderUnavailable,
    RefundRequest,
    RequestRefused,
)
from cauri.connectors.pawapay import InitiationRejected, PawapayConnector, PawapayUncertain, transaction_id
from cauri.connectors.providers import PROVIDERS
from cauri.connectors.registry import ConnectorRegistry
from cauri.domain.attempts import AttemptStatus
from cauri.domain.methods import CATALOGUE
from cauri.domain.payouts import PayoutStatus
from cauri.domain.refunds import RefundStatus
from cauri.services.checkout import reconcile
from cauri.settings import Settings
from cauri.store.tables import events, payments
from tests.conftest import MerchantApp, new_merchant, payment_body, runtime_of, serving, uow
from tests.e2e.conftest import browser, merchant_site  # noqa: F401 - Chromium and the merchant's site, shared
from tests.providers.accounts import PATIENT_LOCKS, stored_account
from tests.providers.pawapay_simulator import PawapaySimulator

TOKEN = "pp-test-token-9f8e7d6c5b4a"
ACCOUNT_ID = "pa_pawapaytest01"
PUBLIC = "http://cauri.test"
COMPLETES, PAYER_NOT_FOUND, STUCK = "22951345789", "22951345029", "22951345129"
RECIPIENT_NOT_FOUND = "22951345089"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def no_credentials_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert TOKEN not in caplog.text


@dataclass
class Served:
    sim: PawapaySimulator
    url: str


@pytest.fixture
def simulator() -> Iterator[Served]:
    sim = PawapaySimulator(token=TOKEN)
    port = free_port()
    with serving(sim.app, port) as url:
        yield Served(sim, url)


def connector_for(url: str, token: str = TOKEN, account_id: str = ACCOUNT_ID) -> PawapayConnector:
    account = ProviderAccount(account_id, "pawapay", {"api_token": token}, sandbox=True, base_url=url)
    return PawapayConnector(account, http=httpx.AsyncClient(timeout=httpx.Timeout(1.0, connect=1.0)))


@pytest.fixture
def connector(simulator: Served) -> PawapayConnector:
    return connector_for(simulator.url)


def attempt(attempt_id: str, phone: str, *, method: str = "mtn_bj", currency: str = "XOF") -> AttemptRequest:
    return AttemptRequest(attempt_id, "py_pawapaytest", CATALOGUE.payment_methods[method], 1500, currency, phone)


async def settled(sim: PawapaySimulator, kind: str, tx_id: str, within: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        record = sim.records[kind].get(tx_id)
        if record is not None and record["status"] in ("COMPLETED", "FAILED"):
            return record
        await asyncio.sleep(0.02)
    raise AssertionError(f"{kind} {tx_id} did not settle")


def callback(sim: PawapaySimulator, record: dict[str, Any], route: str = "callback", **kw: Any) -> tuple[bytes, dict]:
    body, headers = sim.signed(f"{PUBLIC}/connectors/{ACCOUNT_ID}/{route}", record, **kw)
    return body, {**headers, "Host": "cauri.test"}


def test_registered_for_the_catalogues_methods() -> None:
    assert PROVIDERS["pawapay"] is PawapayConnector
    assert PawapayConnector.payment_methods <= set(CATALOGUE.payment_methods)
    assert PawapayConnector.payout_methods <= set(CATALOGUE.payout_methods)
    assert {"mtn_bj", "moov_bj", "mtn_cm", "orange_ci"} <= PawapayConnector.payment_methods
    deposit_id = transaction_id(ACCOUNT_ID, "att_x")
    assert deposit_id == transaction_id(ACCOUNT_ID, "att_x") != transaction_id("pa_other", "att_x")
    assert deposit_id[14] == "4" and deposit_id[19] in "89ab"  # a UUIDv4, as pawaPay requires


async def test_a_deposit_completes_by_signed_callback(simulator: Served, connector: PawapayConnector) -> None:
    started = await connector.start(attempt("att_ok1", COMPLETES), f"{PUBLIC}/connectors/{ACCOUNT_ID}/callback")
    assert started.action.kind is ActionKind.CONFIRM_ON_PHONE
    assert started.reference == transaction_id(ACCOUNT_ID, "att_ok1")
    sent = simulator.sim.records["deposit"][started.reference]
    assert sent["payer"]["accountDetails"] == {"phoneNumber": COMPLETES, "provider": "MTN_MOMO_BEN"}
    assert sent["amount"] == "1500" and sent["metadata"]["attemptId"] == "att_ok1"
    record = await settled(simulator.sim, "deposit", started.reference)
    outcome = connector.parse_callback(*callback(simulator.sim, record))
    assert (outcome.attempt_id, outcome.status) == ("att_ok1", AttemptStatus.SUCCESS)
    # A fresh process: pawaPay's key is fetched before the first callback is checked, asynchronously; parsing
    # itself never waits on pawaPay (a blocking fetch would stall every request the event loop serves).
    cold = connector_for(simulator.url)
    body, headers = callback(simulator.sim, record)
    asked = len(simulator.sim.seen_requests)
    with pytest.raises(CallbackRejected):
        cold.parse_callback(body, headers)  # no key yet, and no I/O to get one
    assert len(simulator.sim.seen_requests) == asked
    await cold.prepare_callback(headers)
    assert cold.parse_callback(body, headers) == outcome


async def test_a_deposit_fails_with_pawapays_code(simulator: Served, connector: PawapayConnector) -> None:
    started = await connector.start(attempt("att_ko1", PAYER_NOT_FOUND), "")
    record = await settled(simulator.sim, "deposit", started.reference)
    outcome = connector.parse_callback(*callback(simulator.sim, record))
    assert outcome.status is AttemptStatus.FAILED and outcome.failure_code == "payer_not_found"
    polled = await connector.fetch_status({"id": "att_ko1", "provider_reference": started.reference})
    assert polled == outcome


async def test_pending_then_success_by_polling_only(simulator: Served, connector: PawapayConnector) -> None:
    simulator.sim.knobs.callbacks = False
    simulator.sim.knobs.delay = 0.3
    started = await connector.start(attempt("att_poll", COMPLETES), "")
    assert (await connector.fetch_status({"id": "att_poll"})).status is AttemptStatus.PENDING
    await settled(simulator.sim, "deposit", started.reference)
    assert simulator.sim.sent == []
    assert (await connector.fetch_status({"id": "att_poll"})).status is AttemptStatus.SUCCESS
    stuck = await connector.start(attempt("att_stuck", STUCK), "")
    await asyncio.sleep(0.4)
    assert simulator.sim.records["deposit"][stuck.reference]["status"] == "PROCESSING"
    assert (await connector.fetch_status({"id": "att_stuck"})).status is AttemptStatus.PENDING
    never_sent = await connector.fetch_status({"id": "att_never"})
    assert never_sent.status is AttemptStatus.FAILED and never_sent.failure_code == "not_found"


async def test_forged_and_replayed_callbacks_are_refused(simulator: Served, connector: PawapayConnector) -> None:
    started = await connector.start(attempt("att_sig", COMPLETES), "")
    record = await settled(simulator.sim, "deposit", started.reference)
    body, headers = callback(simulator.sim, record)
    assert connector.parse_callback(body, headers).status is AttemptStatus.SUCCESS
    forged_body = body.replace(b"att_sig", b"att_sih")
    impostor = PawapaySimulator(token="x")  # another key pair, pawaPay's keyid
    cases = [
        (forged_body, headers),  # the body changed: digest mismatch
        impostor.signed(f"{PUBLIC}/connectors/{ACCOUNT_ID}/callback", record),  # not pawaPay's key
        (body, {k: v for k, v in headers.items() if k != "Signature"}),  # unsigned
        (body, {**headers, "Host": "elsewhere.test"}),  # signed for another host
        callback(simulator.sim, record, route="payouts/callback"),  # signed for another route
        callback(simulator.sim, record, created=int(time.time()) - 3600),  # a replay outside the window
        (body, {**headers, "Signature-Input": headers["Signature-Input"].replace("expires=", "expires=9")}),
        (body, {**headers, "Signature-Input": headers["Signature-Input"].replace("KEY:1", "KEY:2")}),  # no such key
        (body, {**headers, "Content-Digest": "sha-256=:\u00e9:"}),  # non-ASCII (latin-1 headers): no crash
        (body, {**headers, "Signature": "sig-pp=:\u00e9:"}),
    ]
    for bad_body, bad_headers in cases:
        with pytest.raises(CallbackRejected):
            connector.parse_callback(bad_body, {**bad_headers, "Host": bad_headers.get("Host", "cauri.test")})
    # Unknown key ids make the connector ask pawaPay's public-keys endpoint at most once a minute.
    key_requests = [r for r in simulator.sim.seen_requests if r[1] == "/v2/public-key/http"]
    unknown = {**headers, "Signature-Input": headers["Signature-Input"].replace("KEY:1", "KEY:3")}
    for _ in range(5):
        await connector.prepare_callback(unknown)
        with pytest.raises(CallbackRejected):
            connector.parse_callback(body, unknown)
    assert [r for r in simulator.sim.seen_requests if r[1] == "/v2/public-key/http"] == key_requests
    # Signed by pawaPay, but another account's transaction (its id does not derive from ours).
    other = connector_for(simulator.url, account_id="pa_someoneelse")
    with pytest.raises(CallbackRejected):
        other.parse_callback(*callback(simulator.sim, record))


async def test_initiation_answers_are_mapped_precisely(simulator: Served, connector: PawapayConnector) -> None:
    sim = simulator.sim
    first = await connector.start(attempt("att_dup", COMPLETES), "")
    again = await connector.start(attempt("att_dup", COMPLETES), "")  # DUPLICATE_IGNORED: already accepted
    assert first.reference == again.reference and len(sim.records["deposit"]) == 1
    with pytest.raises(InitiationRejected) as rejected:  # REJECTED: nothing accepted, the attempt fails
        await connector.start(attempt("att_cur", COMPLETES, currency="XAF"), "")
    assert rejected.value.code == "INVALID_CURRENCY" and isinstance(rejected.value, ProviderUnavailable)
    assert isinstance(rejected.value, RequestRefused), "pawaPay answered: it is up, its breaker is not charged"
    sim.knobs.fail_next = 1  # one 500, then the same depositId again is accepted
    retried = await connector.start(attempt("att_5xx", COMPLETES), "")
    assert retried.reference in sim.records["deposit"]
    sim.knobs.fail_next = 5  # 500s only: pawaPay's record says nothing was taken
    with pytest.raises(ProviderUnavailable):
        await connector.start(attempt("att_down", COMPLETES), "")
    assert transaction_id(ACCOUNT_ID, "att_down") not in sim.records["deposit"]


async def test_timeouts_retry_the_same_deposit_or_leave_it_pending(
    simulator: Served, connector: PawapayConnector
) -> None:
    sim = simulator.sim
    sim.knobs.slow_next, sim.knobs.slow_seconds = 1, 2.5  # the answer is lost once: the retry hears DUPLICATE
    started = await connector.start(attempt("att_late", COMPLETES), "")
    assert list(sim.records["deposit"]) == [started.reference]
    sim.knobs.slow_next = 2  # lost twice: accepted or not, only pawaPay knows; the attempt stays pending
    with pytest.raises(PawapayUncertain) as uncertain:
        await connector.start(attempt("att_slow", COMPLETES), "")
    assert not isinstance(uncertain.value, ProviderUnavailable)
    await settled(sim, "deposit", transaction_id(ACCOUNT_ID, "att_slow"))
    assert (await connector.fetch_status({"id": "att_slow"})).status is AttemptStatus.SUCCESS


async def test_an_unreachable_provider_is_unavailable() -> None:
    closed = connector_for(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ProviderUnavailable):
        await closed.start(attempt("att_closed", COMPLETES), "")
    with pytest.raises(ProviderUnavailable):
        await closed.check_credentials()


async def test_payouts(simulator: Served, connector: PawapayConnector) -> None:
    method = CATALOGUE.payout_methods["mtn_bj"]
    paid = await connector.payout(PayoutRequest("po_ok", method, 2000, "XOF", {"msisdn": COMPLETES}), "")
    record = await settled(simulator.sim, "payout", paid)
    assert record["recipient"]["accountDetails"]["provider"] == "MTN_MOMO_BEN"
    outcome = connector.parse_payout_callback(*callback(simulator.sim, record, route="payouts/callback"))
    assert (outcome.payout_id, outcome.status) == ("po_ok", PayoutStatus.SUCCESS)
    with pytest.raises(CallbackRejected):  # a payout's signature does not pass on the payments' route
        connector.parse_payout_callback(*callback(simulator.sim, record))
    lost = await connector.payout(PayoutRequest("po_ko", method, 2000, "XOF", {"msisdn": RECIPIENT_NOT_FOUND}), "")
    await settled(simulator.sim, "payout", lost)
    failed = await connector.fetch_payout_status({"id": "po_ko"})
    assert failed.status is PayoutStatus.FAILED and failed.failure_code == "recipient_not_found"


async def test_refunds(simulator: Served, connector: PawapayConnector) -> None:
    started = await connector.start(attempt("att_paid", COMPLETES), "")
    await settled(simulator.sim, "deposit", started.reference)
    paid_attempt = {"id": "att_paid", "provider_reference": started.reference}
    request = RefundRequest("rf_one", 1500, "XOF", paid_attempt, {"id": "py_pawapaytest"})
    refund_id = await connector.refund(request, "")
    record = await settled(simulator.sim, "refund", refund_id)
    assert record["depositId"] == started.reference
    outcome = connector.parse_refund_callback(*callback(simulator.sim, record, route="refunds/callback"))
    assert (outcome.refund_id, outcome.status) == ("rf_one", RefundStatus.SUCCESS)
    assert (await connector.fetch_refund_status({"id": "rf_one"})).status is RefundStatus.SUCCESS
    unpaid = {"id": "att_never_paid"}
    with pytest.raises(InitiationRejected):
        await connector.refund(RefundRequest("rf_two", 10, "XOF", unpaid, {"id": "py_x"}), "")


async def test_check_credentials(simulator: Served, connector: PawapayConnector) -> None:
    said = await connector.check_credentials()
    assert "signed callbacks" in said and TOKEN not in said
    with pytest.raises(CredentialsRefused) as refused:
        await connector_for(simulator.url, token="wrong-token").check_credentials()
    assert "wrong-token" not in str(refused.value)


# -- through the gateway ----------------------------------------------------------------------------------------


@dataclass
class LiveGateway:
    url: str
    sim: PawapaySimulator
    #: The merchant's stored pawaPay account (``pa_…``), which routing sends the live app's payments to.
    account_id: str
    merchant: MerchantApp
    #: A registry for the reconciliation job run from the test (its own event loop): it finds the account stored.
    registry: ConnectorRegistry


@pytest.fixture
async def pawapay_gateway(settings: Settings, engine: AsyncEngine) -> AsyncIterator[LiveGateway]:
    """A live gateway and a live app whose stored pawaPay account points at the simulator: payments reach the
    connector through routing, as they do in production."""
    sim = PawapaySimulator(token=TOKEN)
    sim_port, port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(sim.app, sim_port) as sim_url:
        update = {"public_url": url, "log_level": "warning", "reconcile_every_seconds": 3600, **PATIENT_LOCKS}
        live = settings.model_copy(update=update)
        merchant = await new_merchant(engine, live=True)
        account_id = await stored_account(live, engine, merchant, "pawapay", {"api_token": TOKEN}, sim_url)
        sim.callback_urls = {
            "deposit": f"{url}/connectors/{account_id}/callback",
            "payout": f"{url}/connectors/{account_id}/payouts/callback",
            "refund": f"{url}/connectors/{account_id}/refunds/callback",
        }
        runtime = runtime_of(live, engine)
        with serving(create_app(live), port):
            yield LiveGateway(url, sim, account_id, merchant, runtime.connectors)
        await runtime.connectors.close()


async def pay(gateway: LiveGateway, client: httpx.AsyncClient, phone: str) -> str:
    body = payment_body(currency="XOF", amount=1500, methods=["mtn_bj"])
    created = await client.post("/v1/payments/initialize", json=body, headers=gateway.merchant.headers)
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["data"]["id"]
    page = await client.get(f"/checkout/{payment_id}")
    assert page.status_code == 200 and "mtn_bj" in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    chosen = await client.post(f"/checkout/{payment_id}/pay", data={"csrf": csrf, "method": "mtn_bj", "phone": phone})
    assert chosen.status_code == 303, chosen.text
    return payment_id


async def status_when(engine: AsyncEngine, payment_id: str, wanted: str, within: float = 10.0) -> str:
    deadline = time.monotonic() + within
    status = ""
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            status = str((await conn.execute(select(payments.c.status).where(payments.c.id == payment_id))).scalar())
        if status == wanted:
            break
        await asyncio.sleep(0.05)
    return status


async def test_a_live_payment_is_paid_by_callback_once(pawapay_gateway: LiveGateway, engine: AsyncEngine) -> None:
    gateway = pawapay_gateway
    gateway.sim.knobs.duplicate = gateway.sim.knobs.out_of_order = True  # final, final again, then a stale one
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        payment_id = await pay(gateway, client, "+229 01 51 34 57 89")
        assert await status_when(engine, payment_id, "success") == "success"
        for _ in range(100):
            if len(gateway.sim.answers) == 3:
                break
            await asyncio.sleep(0.05)
        assert len(gateway.sim.sent) == 3
        applied = {"received": True, "applied": True}
        ignored = {"received": True, "applied": False}
        assert gateway.sim.answers == [(200, applied), (200, ignored), (200, ignored)]
        verified = await client.get(f"/v1/payments/{payment_id}/verify", headers=gateway.merchant.headers)
        assert verified.json()["data"]["status"] == "success"
    async with engine.connect() as conn:
        query = select(events.c.type).where(events.c.payment_id == payment_id, events.c.type == "payment.success")
        assert len((await conn.execute(query)).all()) == 1
    deposit = gateway.sim.records["deposit"][next(iter(gateway.sim.records["deposit"]))]
    assert deposit["payer"]["accountDetails"]["phoneNumber"] == "2290151345789"


async def test_a_forged_callback_through_the_route_changes_nothing(
    pawapay_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    gateway = pawapay_gateway
    gateway.sim.knobs.callbacks = False
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        payment_id = await pay(gateway, client, "0151345789")
        deposit_id = next(iter(gateway.sim.records["deposit"]))
        record = await settled(gateway.sim, "deposit", deposit_id)
        impostor = PawapaySimulator(token="x")
        body, headers = impostor.signed(gateway.sim.callback_urls["deposit"], record)
        refused = await client.post(f"/connectors/{gateway.account_id}/callback", content=body, headers=headers)
        assert refused.status_code == 400
        assert await status_when(engine, payment_id, "success", within=0.3) == "pending"


async def test_a_live_payment_is_paid_by_polling_only(pawapay_gateway: LiveGateway, engine: AsyncEngine) -> None:
    gateway = pawapay_gateway
    gateway.sim.knobs.callbacks = False
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        payment_id = await pay(gateway, client, "0151345789")
    await settled(gateway.sim, "deposit", next(iter(gateway.sim.records["deposit"])))
    assert await status_when(engine, payment_id, "success", within=0.3) == "pending"
    lease = timedelta(seconds=60)
    applied = await reconcile(uow(engine), gateway.registry, older_than=timedelta(0), lease=lease)
    assert applied >= 1  # ours, and maybe other tests' sandbox attempts in this database
    assert await status_when(engine, payment_id, "success") == "success"
    assert gateway.sim.sent == []


async def test_a_live_refund_and_payout_settle_by_pawapays_callbacks(
    pawapay_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    gateway = pawapay_gateway
    headers = gateway.merchant.headers
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        payment_id = await pay(gateway, client, "0151345789")
        assert await status_when(engine, payment_id, "success") == "success"
        refund = await client.post(f"/v1/payments/{payment_id}/refund", json={"amount": 500}, headers=headers)
        assert refund.status_code == 201, refund.text
        payout_body = {
            "amount": 700, "currency": "XOF", "description": "Supplier", "method": "mtn_bj",
            "customer": {"email": "awa@example.com", "first_name": "Awa", "last_name": "Dossou"},
            "recipient": {"msisdn": "2290151345789"},
        }  # fmt: skip
        created = await client.post("/v1/payouts/initialize", json=payout_body, headers=headers)
        assert created.status_code == 201, created.text
        payout_id = created.json()["data"]["id"]

        async def ended() -> bool:
            shown = (await client.get(f"/v1/payments/{payment_id}/verify", headers=headers)).json()["data"]
            paid_out = (await client.get(f"/v1/payouts/{payout_id}/verify", headers=headers)).json()["data"]
            return [r["status"] for r in shown["refunds"]] == ["success"] and paid_out["status"] == "success"

        deadline = time.monotonic() + 10
        while not await ended():
            assert time.monotonic() < deadline, "the refund and the payout did not settle"
            await asyncio.sleep(0.05)
    (refunded,) = gateway.sim.records["refund"].values()
    assert refunded["amount"] == "500" and refunded["depositId"] in gateway.sim.records["deposit"]
    (paid_out,) = gateway.sim.records["payout"].values()
    assert paid_out["recipient"]["accountDetails"] == {"phoneNumber": "2290151345789", "provider": "MTN_MOMO_BEN"}
    routes = {urlsplit(url).path for url, _, _ in gateway.sim.sent}
    name = gateway.account_id
    assert routes == {f"/connectors/{name}/callback", f"/connectors/{name}/refunds/callback",
                      f"/connectors/{name}/payouts/callback"}  # fmt: skip


async def test_a_live_payment_is_paid_end_to_end_in_chromium(
    pawapay_gateway: LiveGateway,
    browser: Browser,  # noqa: F811 - the e2e fixtures imported above
    merchant_site: str,  # noqa: F811
) -> None:
    gateway = pawapay_gateway
    body = payment_body(currency="XOF", amount=5000, methods=["mtn_bj"], return_url=f"{merchant_site}/return?order=42")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        created = await client.post("/v1/payments/initialize", json=body, headers=gateway.merchant.headers)
        assert created.status_code == 201, created.text
        payment = created.json()["data"]
        page = await (await browser.new_context(locale="en-US")).new_page()
        await page.goto(payment["checkout_url"])
        await page.check("input[value=mtn_bj]")
        await page.fill("#phone", "01 51 34 57 89")
        await page.click("#pay")
        await page.wait_for_url(f"{merchant_site}/return**", timeout=15_000)
        assert parse_qs(urlsplit(page.url).query)["paymentStatus"] == ["success"]
        await page.context.close()
        verified = await client.get(f"/v1/payments/{payment['id']}/verify", headers=gateway.merchant.headers)
    assert verified.json()["data"]["status"] == "success"
    (deposit,) = gateway.sim.records["deposit"].values()
    assert deposit["amount"] == "5000" and deposit["payer"]["accountDetails"]["phoneNumber"] == "2290151345789"


class LostThenRefused(httpx.AsyncBaseTransport):
    """The network delivering the first request and losing its answer (a read timeout), then a retry refused
    before pawaPay's application (a rate limit): only pawaPay's record can say whether the first was taken."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if request.method == "POST" and self.calls == 1:
            await self.inner.handle_async_request(request)
            raise httpx.ReadTimeout("answer lost", request=request)
        if request.method == "POST":
            return httpx.Response(429, json={"failureReason": {"failureCode": "TOO_MANY_REQUESTS"}})
        return await self.inner.handle_async_request(request)


async def test_a_refused_retry_after_a_lost_answer_is_uncertain_not_unavailable(simulator: Served) -> None:
    account = ProviderAccount(ACCOUNT_ID, "pawapay", {"api_token": TOKEN}, sandbox=True, base_url=simulator.url)
    async with httpx.AsyncClient(transport=LostThenRefused(), timeout=httpx.Timeout(2.0)) as http:
        connector = PawapayConnector(account, http=http)
        connector._keys_at = time.monotonic()  # no key refresh in the way of the initiation's two tries
        with pytest.raises(PawapayUncertain) as uncertain:
            await connector.start(attempt("att_lost", COMPLETES), "")
    assert not isinstance(uncertain.value, ProviderUnavailable)
    assert transaction_id(ACCOUNT_ID, "att_lost") in simulator.sim.records["deposit"]  # it was taken


async def test_a_completed_deposit_reports_what_pawapay_collected(
    simulator: Served, connector: PawapayConnector
) -> None:
    """The gateway compares a success's amount and currency with the payment's (``amount_mismatch`` otherwise):
    the connector reports them in Cauri's units, and fails outright an amount no whole number of units."""
    started = await connector.start(attempt("att_amt", COMPLETES), "")
    record = await settled(simulator.sim, "deposit", started.reference)
    outcome = connector.parse_callback(*callback(simulator.sim, record))
    assert (outcome.status, outcome.amount, outcome.currency) == (AttemptStatus.SUCCESS, 1500, "XOF")
    polled = await connector.fetch_status({"id": "att_amt"})
    assert (polled.amount, polled.currency) == (1500, "XOF")
    less = connector.parse_callback(*callback(simulator.sim, {**record, "amount": "150", "currency": "XAF"}))
    assert (less.status, less.amount, less.currency) == (AttemptStatus.SUCCESS, 150, "XAF")
    for odd in ("1499.50", "1e3", "", 1500.0):
        fractional = connector.parse_callback(*callback(simulator.sim, {**record, "amount": odd}))
        assert (fractional.status, fractional.failure_code) == (AttemptStatus.FAILED, "amount_mismatch"), odd


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, b'{"status": "REJECTED", "failureReason": {"failureCode": "INVALID_PHONE_NUMBER"}}', "refused"),
        (404, b"<html>not found</html>", "counts"),  # a wrong base URL or a proxy's answer: the account's trouble
        (429, b"", "counts"),
        (403, b"", "counts"),
        (200, b"<html>a portal</html>", "uncertain"),  # 2xx without a JSON object: it may have been accepted
    ],
)
def test_only_a_refusal_of_the_request_spares_the_breaker(status: int, body: bytes, expected: str) -> None:
    connector = connector_for("http://127.0.0.1:9")
    response = httpx.Response(status, content=body, request=httpx.Request("POST", "http://127.0.0.1:9/v2/deposits"))
    with pytest.raises((ProviderUnavailable, PawapayUncertain)) as raised:
        connector._read_initiation(response)
    kind = ("refused" if isinstance(raised.value, RequestRefused)
            else "counts" if isinstance(raised.value, ProviderUnavailable) else "uncertain")  # fmt: skip
    assert kind == expected, raised.value
