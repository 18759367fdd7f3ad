"""The Paystack connector against its simulator over real HTTP on loopback: each call, each notification, each
fault; then through the gateway (a live app whose Paystack methods go to the connector)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
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
)
from cauri.connectors.paystack import PaystackConnector, PaystackError, paid_outcome
from cauri.connectors.providers import PROVIDERS
from cauri.connectors.registry import ConnectorRegistry
from cauri.domain.attempts import AttemptStatus
from cauri.domain.methods import CATALOGUE
from cauri.domain.payouts import PayoutStatus
from cauri.domain.refunds import RefundStatus
from cauri.services.checkout import reconcile
from cauri.services.refunds import reconcile_refunds
from cauri.settings import Settings
from cauri.store.tables import attempts, events, payments
from tests.api.test_payouts import payout_body
from tests.conftest import MerchantApp, new_merchant, payment_body, runtime_of, serving, uow
from tests.providers.accounts import PATIENT_LOCKS, stored_account
from tests.providers.paystack_simulator import DECLINED_CARD, PAYING_CARD, PaystackSimulator

SECRET = "sk_test_" + "5f3c" * 10
CALLBACK = "http://cauri.test/connectors/pa_paystack1/callback"
#: The payment's public checkout page, where Paystack's page sends the customer back.
RETURN = "https://pay.example.com/checkout/py_000000000000001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def simulator() -> Iterator[PaystackSimulator]:
    sim = PaystackSimulator(SECRET)
    port = free_port()
    sim.base_url = f"http://127.0.0.1:{port}"
    with serving(sim.app(), port):
        yield sim


@pytest.fixture
async def connector(simulator: PaystackSimulator) -> AsyncIterator[PaystackConnector]:
    account = ProviderAccount("pa_paystack1", "paystack", {"secret_key": SECRET}, sandbox=True,
                              base_url=simulator.base_url)  # fmt: skip
    async with httpx.AsyncClient(timeout=httpx.Timeout(1.0)) as http:
        yield PaystackConnector(account, http)


def attempt(method: str, amount: int = 1500, phone: str | None = None, n: int = 1) -> AttemptRequest:
    found = CATALOGUE.resolve_payment_method(method)
    assert found is not None
    return AttemptRequest(f"att_0000000000000{n:03d}", "py_000000000000001", found, amount, found.currency, phone,
                          return_url=RETURN, customer_email="ama@example.com")  # fmt: skip


async def until(condition: Callable[[], Any], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def row(reference: str, attempt_id: str) -> dict[str, Any]:
    return {"id": attempt_id, "provider_reference": reference}


# -- the contract ----------------------------------------------------------------------------------------------


def test_paystack_is_a_provider_with_its_documented_methods() -> None:
    assert PROVIDERS["paystack"] is PaystackConnector
    assert PaystackConnector.credential_fields == ("secret_key",)
    for code in PaystackConnector.payment_methods | PaystackConnector.payout_methods:
        assert CATALOGUE.resolve_payment_method(code) or code in CATALOGUE.payout_methods, code
    assert {"card_ngn", "card_ghs", "card_kes", "card_zar", "card_usd", "mtn_gh", "mpesa_ke", "orange_ci",
            "bank_transfer_ng", "ussd_ngn"} <= PaystackConnector.payment_methods  # fmt: skip
    assert "qr_ngn" not in PaystackConnector.payment_methods  # the Charge API documents no Nigerian QR


# -- cards: Paystack's hosted page -----------------------------------------------------------------------------


async def test_a_card_goes_to_paystacks_page_and_the_success_arrives_signed(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    started = await connector.start(attempt("card_ngn", 1500), CALLBACK)
    assert started.action.kind is ActionKind.REDIRECT
    assert started.reference == "att-0000000000000001"
    (_, path, body) = simulator.requests[-1]
    assert path == "/transaction/initialize"
    assert body["amount"] == 150000 and body["currency"] == "NGN"  # kobo
    assert body["reference"] == "att-0000000000000001" and body["channels"] == ["card"]
    assert body["callback_url"] == RETURN  # the attempt's return url, not derived from the notification url
    assert body["email"] == "ama@example.com"  # the customer's
    assert not any(key.startswith("card") for key in body)  # Cauri never holds the number
    pending = await connector.fetch_status(row(started.reference, "att_0000000000000001"))
    assert pending.status is AttemptStatus.PENDING  # "abandoned" until the customer pays

    async with httpx.AsyncClient() as browser:  # the customer on Paystack's page
        paid = await browser.post(started.action.data["url"], data={"card_number": PAYING_CARD})
    assert paid.status_code == 302
    assert paid.headers["location"] == f"{RETURN}?trxref=att-0000000000000001&reference=att-0000000000000001"
    await until(lambda: simulator.deliveries, "the webhook")
    delivery = simulator.deliveries[0]
    outcome = connector.parse_callback(delivery.body, delivery.headers)
    assert (outcome.attempt_id, outcome.status) == ("att_0000000000000001", AttemptStatus.SUCCESS)
    polled = await connector.fetch_status(row(started.reference, "att_0000000000000001"))
    assert polled.status is AttemptStatus.SUCCESS


async def test_a_declined_card_is_learnt_by_polling_only(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    started = await connector.start(attempt("card_ghs", 20), CALLBACK)
    assert simulator.requests[-1][2]["amount"] == 2000  # pesewas
    async with httpx.AsyncClient() as browser:
        await browser.post(started.action.data["url"], data={"card_number": DECLINED_CARD})
    await asyncio.sleep(0.2)
    assert simulator.deliveries == []  # Paystack notifies successes only
    outcome = await connector.fetch_status(row(started.reference, "att_0000000000000001"))
    assert (outcome.status, outcome.failure_code, outcome.failure_message) == (
        AttemptStatus.FAILED, "declined", "The card was declined."
    )  # fmt: skip


async def test_without_a_return_url_or_an_email_paystack_gets_neither_invented(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    """A caller that knows no checkout page leaves Paystack its dashboard's callback URL; with no email, a
    stand-in that receives nothing (Paystack requires one)."""
    bare = dataclasses.replace(attempt("card_ngn", 1500), return_url=None, customer_email=None)
    await connector.start(bare, CALLBACK)
    body = simulator.requests[-1][2]
    assert "callback_url" not in body
    assert body["email"] == "att-0000000000000001@customers.invalid"


async def test_a_hosted_page_off_https_is_not_followed() -> None:
    """Against the real API (no base_url override), an authorization_url must be https."""
    account = ProviderAccount("pa_x", "paystack", {"secret_key": SECRET}, sandbox=True)
    assert not PaystackConnector(account)._trusted_page("http://checkout.paystack.com/abc")
    assert PaystackConnector(account)._trusted_page("https://checkout.paystack.com/abc")


# -- mobile money, transfer, USSD: the Charge API --------------------------------------------------------------


async def test_mobile_money_pending_then_success_by_callback(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    started = await connector.start(attempt("mtn_gh", 100, phone="233551234987"), CALLBACK)
    assert started.action.kind is ActionKind.CONFIRM_ON_PHONE
    (_, path, body) = simulator.requests[-1]
    assert path == "/charge"
    assert body["mobile_money"] == {"phone": "0551234987", "provider": "mtn"}
    assert body["amount"] == 10000 and body["currency"] == "GHS"
    first = await connector.fetch_status(row(started.reference, "att_0000000000000001"))
    assert first.status is AttemptStatus.PENDING
    await until(lambda: simulator.deliveries, "the webhook")
    outcome = connector.parse_callback(simulator.deliveries[0].body, simulator.deliveries[0].headers)
    assert outcome.status is AttemptStatus.SUCCESS and outcome.attempt_id == "att_0000000000000001"


async def test_mobile_money_pending_then_success_by_polling_only(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    started = await connector.start(attempt("mtn_gh", 100, phone="233551234985"), CALLBACK)
    await asyncio.sleep(0.2)
    assert (await connector.fetch_status(row(started.reference, "att_0000000000000001"))).status is (
        AttemptStatus.PENDING
    )
    simulator.transactions[started.reference]["status"] = "success"  # approved; its webhook lost
    outcome = await connector.fetch_status(row(started.reference, "att_0000000000000001"))
    assert outcome.status is AttemptStatus.SUCCESS


async def test_mpesa_and_cote_divoire_wallets_use_their_providers(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    await connector.start(attempt("mpesa_ke", 100, phone="254710000000"), CALLBACK)
    assert simulator.requests[-1][2]["mobile_money"] == {"phone": "254710000000", "provider": "mpesa"}
    await connector.start(attempt("orange_ci", 500, phone="2250700000000", n=2), CALLBACK)
    assert simulator.requests[-1][2]["mobile_money"]["provider"] == "orange"
    assert simulator.requests[-1][2]["amount"] == 50000  # XOF in subunits, as Paystack counts every currency


async def test_nigerian_transfer_and_ussd_show_paystacks_instructions(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    transfer = await connector.start(attempt("bank_transfer_ng", 5000), CALLBACK)
    assert transfer.action.kind is ActionKind.INSTRUCTIONS
    assert transfer.action.data["account_number"] == "1260257501"
    assert transfer.action.data["bank"] == "Test Bank"
    ussd = await connector.start(attempt("ussd_ngn", 5000, phone="2348031234567", n=2), CALLBACK)
    assert ussd.action.kind is ActionKind.INSTRUCTIONS
    assert ussd.action.data["ussd_code"].startswith("*737*")
    simulator.settle(transfer.reference, "success")  # the customer made the transfer
    outcome = await connector.fetch_status(row(transfer.reference, "att_0000000000000001"))
    assert outcome.status is AttemptStatus.SUCCESS


# -- notifications ---------------------------------------------------------------------------------------------


async def test_forged_notifications_are_refused(connector: PaystackConnector, simulator: PaystackSimulator) -> None:
    genuine = simulator.event("charge.success", {"reference": "att-0000000000000001", "status": "success"})
    assert connector.parse_callback(genuine.body, genuine.headers).status is AttemptStatus.SUCCESS
    tampered = genuine.body.replace(b"0001", b"0002")
    other_key = PaystackSimulator("sk_test_another").event("charge.success", {"reference": "att-1", "status": "x"})
    for body, headers in (
        (tampered, genuine.headers),
        (other_key.body, other_key.headers),
        (genuine.body, {}),
        (genuine.body, {"x-paystack-signature": "é" * 128}),
        (b"not json", {"x-paystack-signature": simulator.sign(b"not json")}),
    ):
        with pytest.raises(CallbackRejected):
            connector.parse_callback(body, headers)


async def test_events_that_are_not_our_charges_change_nothing(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    for name, data in (
        ("transfer.success", {"reference": "po_0000000000000001", "status": "success"}),
        ("charge.success", {"reference": "T685312322670591", "status": "success"}),  # not one of ours
        ("refund.processed", {"transaction_reference": "att-1", "status": "processed"}),
        ("charge.dispute.create", {"reference": "att-0000000000000001", "status": "success"}),
    ):
        delivery = simulator.event(name, data)
        assert connector.parse_callback(delivery.body, delivery.headers).status is AttemptStatus.PENDING


# -- faults ----------------------------------------------------------------------------------------------------


async def test_unavailable_before_acceptance_fails_and_anything_else_stays_pending(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    simulator.fail_next("/transaction/initialize", 503)
    with pytest.raises(ProviderUnavailable):
        await connector.start(attempt("card_ngn"), CALLBACK)
    simulator.fail_next("/charge", 500)
    with pytest.raises(PaystackError):  # perhaps taken: the attempt stays pending for reconciliation
        await connector.start(attempt("mtn_gh", 100, phone="233551234987", n=2), CALLBACK)
    simulator.stall_next("/charge")
    with pytest.raises(PaystackError):  # timed out after sending: the same
        await connector.start(attempt("mtn_gh", 100, phone="233551234987", n=3), CALLBACK)
    with pytest.raises(ProviderUnavailable):  # refused as invalid: nothing created
        await connector.start(attempt("mtn_gh", 100, phone="", n=4), CALLBACK)


async def test_a_retry_after_an_accepted_call_never_charges_twice(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    await connector.start(attempt("mtn_gh", 100, phone="233551234985"), CALLBACK)
    with pytest.raises(PaystackError):  # Paystack refuses the duplicate reference; it is not a failure
        await connector.start(attempt("mtn_gh", 100, phone="233551234985"), CALLBACK)
    assert len(simulator.transactions) == 1


async def test_an_unreachable_paystack_is_unavailable() -> None:
    account = ProviderAccount("pa_x", "paystack", {"secret_key": SECRET}, sandbox=True,
                              base_url=f"http://127.0.0.1:{free_port()}")  # fmt: skip
    connector = PaystackConnector(account)
    with pytest.raises(ProviderUnavailable):
        await connector.start(attempt("card_ngn"), CALLBACK)
    with pytest.raises(ProviderUnavailable):
        await connector.check_credentials()


class RefusedFirst(httpx.AsyncBaseTransport):
    """The network refusing the first ``n`` connections (nothing sent), then carrying requests as usual."""

    def __init__(self, n: int) -> None:
        self.refusals = n
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refusals:
            self.refusals -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_refused_connections_are_retried_with_the_same_reference(simulator: PaystackSimulator) -> None:
    account = ProviderAccount("pa_x", "paystack", {"secret_key": SECRET}, True, simulator.base_url)
    async with httpx.AsyncClient(transport=RefusedFirst(2), timeout=1.0) as http:
        started = await PaystackConnector(account, http).start(attempt("card_ngn"), CALLBACK)
    assert list(simulator.transactions) == [started.reference]
    async with httpx.AsyncClient(transport=RefusedFirst(3), timeout=1.0) as http:
        with pytest.raises(ProviderUnavailable):  # never sent: the attempt may fail and be tried again
            await PaystackConnector(account, http).start(attempt("card_ngn", n=2), CALLBACK)
    assert len(simulator.transactions) == 1


async def test_a_transaction_paystack_never_saw_fails_on_reconciliation(connector: PaystackConnector) -> None:
    outcome = await connector.fetch_status(row("att-0000000000000009", "att_0000000000000009"))
    assert outcome.status is AttemptStatus.FAILED


# -- credentials -----------------------------------------------------------------------------------------------


async def test_credentials_are_checked_and_their_mode_must_match(simulator: PaystackSimulator) -> None:
    def connector(key: str, sandbox: bool = True) -> PaystackConnector:
        account = ProviderAccount("pa_x", "paystack", {"secret_key": key}, sandbox, simulator.base_url)
        return PaystackConnector(account)

    assert "test key accepted" in await connector(SECRET).check_credentials()
    assert simulator.requests[-1][1] == "/balance"
    with pytest.raises(CredentialsRefused):
        await connector(SECRET, sandbox=False).check_credentials()  # a test key on a live account
    with pytest.raises(CredentialsRefused):
        await connector("sk_test_wrong").check_credentials()  # Paystack answers 401
    with pytest.raises(CredentialsRefused):
        await connector("pk_test_public").check_credentials()


@contextmanager
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every record at DEBUG, the gateway's own too (its ``cauri`` logger does not propagate once configured)."""
    ours = logging.getLogger("cauri")
    level = ours.level
    ours.addHandler(caplog.handler)
    ours.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        yield
    finally:
        ours.removeHandler(caplog.handler)
        ours.setLevel(level)


def leaked(caplog: pytest.LogCaptureFixture, secret: str) -> bool:
    """Whether ``secret`` is in a message or in any field of a record (the JSON log writes the extras too)."""
    return secret in caplog.text or any(secret in str(v) for r in caplog.records for v in vars(r).values())


async def test_the_secret_key_never_reaches_the_logs(
    simulator: PaystackSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    account = ProviderAccount("pa_x", "paystack", {"secret_key": SECRET}, True, simulator.base_url)
    connector = PaystackConnector(account)
    raised: list[str] = [repr(connector)]
    wrong_key = ProviderAccount("pa_y", "paystack", {"secret_key": SECRET + "x"}, True, simulator.base_url)
    with all_logs(caplog):
        await connector.start(attempt("card_ngn"), CALLBACK)
        simulator.fail_next("/charge", 500)
        for call in (
            connector.start(attempt("mtn_gh", 100, phone="233551234987", n=2), CALLBACK),
            connector.start(attempt("mtn_gh", 100, phone="", n=3), CALLBACK),
            PaystackConnector(wrong_key).check_credentials(),
        ):
            try:
                await call
            except Exception as exc:
                raised.append(repr(exc) + str(exc.__cause__))
    assert simulator.authorizations[0] == f"Bearer {SECRET}"  # it was sent, to Paystack only
    assert any(r.name == "cauri.connectors.paystack" for r in caplog.records)  # the refusal was logged
    assert any(r.name.startswith("httpx") for r in caplog.records)  # and every call
    assert not leaked(caplog, SECRET)
    assert not any(SECRET in text for text in raised)


# -- refunds ---------------------------------------------------------------------------------------------------


async def test_a_refund_is_sent_and_its_outcome_polled(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    started = await connector.start(attempt("mtn_gh", 100, phone="233551234987"), CALLBACK)
    await until(lambda: simulator.transactions[started.reference]["status"] == "success", "the payment")
    paid = {"id": "att_0000000000000001", "provider_reference": started.reference}
    request = RefundRequest("rf_0000000000000001", 40, "GHS", paid, {"id": "py_000000000000001"})
    reference = await connector.refund(request, "http://cauri.test/connectors/pa_paystack1/refunds/callback")
    assert simulator.requests[-1][2]["transaction"] == started.reference
    assert simulator.requests[-1][2]["amount"] == 4000
    stored = {"id": "rf_0000000000000001", "provider_reference": reference}
    first = await connector.fetch_refund_status(stored)
    assert first.status in (RefundStatus.PENDING, RefundStatus.SUCCESS)
    await until(lambda: any(b"refund.processed" in d.body for d in simulator.deliveries), "the refund's event")
    event = next(d for d in simulator.deliveries if b"refund.processed" in d.body)
    # Paystack's refund event names the transaction, not the refund: acknowledged, and polled.
    assert connector.parse_refund_callback(event.body, event.headers).status is RefundStatus.PENDING
    assert (await connector.fetch_refund_status(stored)).status is RefundStatus.SUCCESS
    with pytest.raises(CallbackRejected):
        connector.parse_refund_callback(event.body, {"x-paystack-signature": "0" * 128})
    attention = simulator.event("refund.failed", {"status": "failed", "merchant_note": "Cauri refund rf_1"})
    assert connector.parse_refund_callback(attention.body, attention.headers).status is RefundStatus.FAILED


# -- payouts ---------------------------------------------------------------------------------------------------


def payout(payout_id: str, msisdn: str) -> PayoutRequest:
    return PayoutRequest(payout_id, CATALOGUE.payout_methods["mtn_gh"], 25, "GHS", {"msisdn": msisdn})


async def test_a_payout_is_a_transfer_whose_reference_is_the_payout(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    reference = await connector.payout(payout("po_0000000000000001", "233551234987"), "http://x/payouts/callback")
    assert reference == "po_0000000000000001"
    recipient = next(body for _, path, body in simulator.requests if path == "/transferrecipient")
    assert (recipient["type"], recipient["bank_code"], recipient["account_number"]) == ("mobile_money", "MTN",
                                                                                          "0551234987")  # fmt: skip
    transfer = simulator.requests[-1][2]
    assert (transfer["reference"], transfer["amount"], transfer["source"]) == ("po_0000000000000001", 2500, "balance")
    await until(lambda: simulator.deliveries, "the transfer's event")
    delivery = simulator.deliveries[0]
    outcome = connector.parse_payout_callback(delivery.body, delivery.headers)
    assert (outcome.payout_id, outcome.status) == ("po_0000000000000001", PayoutStatus.SUCCESS)
    polled = await connector.fetch_payout_status({"id": reference, "provider_reference": reference})
    assert polled.status is PayoutStatus.SUCCESS
    with pytest.raises(PaystackError):  # the same reference again: Paystack refuses, nothing is paid twice
        await connector.payout(payout("po_0000000000000001", "233551234987"), "http://x/payouts/callback")
    assert len(simulator.transfers) == 1


async def test_a_failed_transfer_and_events_out_of_order(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    await connector.payout(payout("po_0000000000000002", "233551234986"), "http://x/payouts/callback")
    await until(lambda: simulator.deliveries, "the transfer's event")
    failed = connector.parse_payout_callback(simulator.deliveries[0].body, simulator.deliveries[0].headers)
    assert failed.status is PayoutStatus.FAILED and failed.failure_code == "payout_failed"
    # A late "pending"-like event after the final one reads as nothing final: the state machine keeps the end.
    late = simulator.event("transfer.success", {"reference": "po_0000000000000002", "status": "pending"})
    assert connector.parse_payout_callback(late.body, late.headers).status is PayoutStatus.PENDING
    never = await connector.fetch_payout_status({"id": "po_0000000000000009", "provider_reference": None})
    assert never.status is PayoutStatus.FAILED  # no transfer under that reference: none will be made


# -- through the gateway ---------------------------------------------------------------------------------------


@dataclass
class LiveGateway:
    url: str
    simulator: PaystackSimulator
    #: The live app, and its stored Paystack account (``pa_…``) that routing sends the app's payments to.
    merchant: MerchantApp
    account_id: str
    #: A registry for the reconciliation jobs run from the test (its own event loop): it finds the account stored.
    registry: ConnectorRegistry


@pytest.fixture
async def paystack_gateway(
    settings: Settings, engine: AsyncEngine, simulator: PaystackSimulator
) -> AsyncIterator[LiveGateway]:
    """A live gateway and a live app whose stored Paystack account points at the simulator (routing sends the
    app's payments to it, as in production), served on loopback, the simulator's webhooks pointed at it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live = settings.model_copy(update={"public_url": url, "log_level": "warning", **PATIENT_LOCKS})
    merchant = await new_merchant(engine, live=True)
    account_id = await stored_account(live, engine, merchant, "paystack", {"secret_key": SECRET}, simulator.base_url,
                                      sandbox=False)  # fmt: skip
    simulator.webhook_url = f"{url}/connectors/{account_id}/callback"
    runtime = runtime_of(live, engine)
    with serving(create_app(live), port):
        yield LiveGateway(url, simulator, merchant, account_id, runtime.connectors)
    await runtime.connectors.close()


async def pay_by_phone(gateway: LiveGateway, engine: AsyncEngine, phone: str, merchant: Any = None) -> str:
    merchant = merchant or gateway.merchant
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        created = await client.post("/v1/payments/initialize", headers=merchant.headers,
                                    json=payment_body(amount=100, currency="GHS", methods=["mtn_gh"]))  # fmt: skip
        assert created.status_code == 201, created.text
        payment_id: str = created.json()["data"]["id"]
        page = await client.get(f"/checkout/{payment_id}")
        assert "mtn_gh" in page.text
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        paid = await client.post(f"/checkout/{payment_id}/pay",
                                 data={"csrf": token, "method": "mtn_gh", "phone": phone})  # fmt: skip
        assert paid.status_code == 303, paid.text
    return payment_id


async def payment_status(engine: AsyncEngine, payment_id: str) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(select(payments.c.status).where(payments.c.id == payment_id))).scalar_one())


async def event_count(engine: AsyncEngine, payment_id: str, kind: str) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(select(events.c.id).where(events.c.payment_id == payment_id, events.c.type == kind))
        return len(found.all())


async def wait_status(engine: AsyncEngine, payment_id: str, status: str) -> None:
    deadline = time.monotonic() + 15
    while await payment_status(engine, payment_id) != status:
        assert time.monotonic() < deadline, f"payment never became {status}"
        await asyncio.sleep(0.05)


async def test_paid_through_the_gateway_and_a_duplicate_webhook_applies_once(
    paystack_gateway: LiveGateway, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    simulator = paystack_gateway.simulator
    simulator.duplicate_webhooks = True
    with all_logs(caplog):
        payment_id = await pay_by_phone(paystack_gateway, engine, "0551234987")
        await wait_status(engine, payment_id, "success")
    assert any(r.name.startswith("cauri") for r in caplog.records)  # the gateway's request log
    assert not leaked(caplog, SECRET)
    await until(lambda: simulator.deliveries and len(simulator.deliveries[0].answers) == 2, "both deliveries")
    assert simulator.deliveries[0].answers == [200, 200]
    async with engine.connect() as conn:
        attempt_row = (await conn.execute(select(attempts).where(attempts.c.payment_id == payment_id))).one()
    assert attempt_row.connector == paystack_gateway.account_id and attempt_row.status == "success"
    assert attempt_row.provider_reference == attempt_row.id.replace("_", "-")
    assert await simulator.deliver(simulator.deliveries[0]) == 200  # replayed later: acknowledged, no change
    assert await event_count(engine, payment_id, "payment.success") == 1
    async with httpx.AsyncClient(base_url=paystack_gateway.url) as client:
        forged = await client.post(f"/connectors/{paystack_gateway.account_id}/callback",
                                   content=simulator.deliveries[0].body,
                                   headers={"x-paystack-signature": "0" * 128})  # fmt: skip
    assert forged.status_code == 400


async def test_a_failed_charge_is_found_by_the_reconciliation_job(
    paystack_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    simulator = paystack_gateway.simulator
    payment_id = await pay_by_phone(paystack_gateway, engine, "0551234986")
    reference = next(iter(simulator.transactions))
    await until(lambda: simulator.transactions[reference]["status"] == "failed", "the decline")
    await asyncio.sleep(0.2)
    assert simulator.deliveries == []  # no webhook for a failure
    assert await payment_status(engine, payment_id) == "pending"
    applied = await reconcile(uow(engine), paystack_gateway.registry, older_than=timedelta(0),
                              lease=timedelta(seconds=30))  # fmt: skip
    assert applied == 1
    async with engine.connect() as conn:
        attempt_row = (await conn.execute(select(attempts).where(attempts.c.payment_id == payment_id))).one()
    assert (attempt_row.status, attempt_row.failure_code) == ("failed", "declined")
    assert await event_count(engine, payment_id, "payment.failed") == 1
    # Out of order: a success for that attempt arriving after its failure changes nothing.
    late = simulator.event("charge.success", {"reference": reference, "status": "success"})
    assert await simulator.deliver(late) == 200
    assert await payment_status(engine, payment_id) == "pending"


async def test_a_pending_charge_succeeds_by_polling_through_the_gateway(
    paystack_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    simulator = paystack_gateway.simulator
    simulator.webhook_url = None  # webhooks lost on the way
    payment_id = await pay_by_phone(paystack_gateway, engine, "0551234985")
    reference = next(iter(simulator.transactions))
    registry = paystack_gateway.registry
    assert await reconcile(uow(engine), registry, older_than=timedelta(0), lease=timedelta(0)) == 0
    simulator.transactions[reference]["status"] = "success"  # approved on the phone
    assert await reconcile(uow(engine), registry, older_than=timedelta(0), lease=timedelta(0)) == 1
    assert await payment_status(engine, payment_id) == "success"
    assert simulator.requests[-1][1] == f"/transaction/verify/{reference}"


async def test_a_refund_through_the_gateway_is_settled_by_polling(
    paystack_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    simulator = paystack_gateway.simulator
    merchant = paystack_gateway.merchant
    payment_id = await pay_by_phone(paystack_gateway, engine, "0551234987", merchant)
    await wait_status(engine, payment_id, "success")
    async with httpx.AsyncClient(base_url=paystack_gateway.url, headers=merchant.headers) as api:
        created = await api.post(f"/v1/payments/{payment_id}/refund", json={"amount": 40})
        assert created.status_code == 201, created.text
        refund_id = created.json()["data"]["id"]
        [sent] = simulator.refunds.values()
        assert (sent["amount"], sent["merchant_note"]) == (4000, f"Cauri refund {refund_id}")
        # Its event reaches the one webhook URL Paystack has; it names no refund, so it is acknowledged only.
        await until(lambda: len(simulator.deliveries) == 2 and simulator.deliveries[1].answers, "the event")
        assert simulator.deliveries[1].answers == [200]
        refunds_of = (await api.get(f"/v1/payments/{payment_id}/verify")).json()["data"]["refunds"]
        assert [r["status"] for r in refunds_of] == ["pending"]
        changed = await reconcile_refunds(uow(engine), paystack_gateway.registry, older_than=timedelta(0),
                                          lease=timedelta(seconds=30), callback_base=paystack_gateway.url)  # fmt: skip
        assert changed == 1
        shown = (await api.get(f"/v1/payments/{payment_id}/verify")).json()["data"]
    assert ([r["status"] for r in shown["refunds"]], shown["amount_refunded"]) == (["success"], 40)


async def test_a_card_through_the_gateway_is_paid_on_paystacks_page(
    paystack_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    """A live card goes to Paystack's page. The live checkout shows no card fields; a form posted with them anyway
    (an old page, a script) is paid the same way, and the number it carried never leaves Cauri: the customer
    pays on the page the attempt's action names and comes back."""
    simulator = paystack_gateway.simulator
    merchant = paystack_gateway.merchant
    async with httpx.AsyncClient(base_url=paystack_gateway.url) as client:
        created = await client.post("/v1/payments/initialize", headers=merchant.headers,
                                    json=payment_body(amount=150, currency="NGN", methods=["card_ngn"]))  # fmt: skip
        payment_id = created.json()["data"]["id"]
        page = await client.get(f"/checkout/{payment_id}")
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        form = {"csrf": token, "method": "card_ngn", "card_number": "4000000000000002", "card_expiry": "12/30",
                "card_cvc": "123", "country": "NG"}  # fmt: skip
        assert (await client.post(f"/checkout/{payment_id}/pay", data=form)).status_code == 303
        assert (await client.get(f"/checkout/{payment_id}")).status_code == 200
    assert "4000000000000002" not in repr(simulator.requests)
    async with engine.connect() as conn:
        attempt_row = (await conn.execute(select(attempts).where(attempts.c.payment_id == payment_id))).one()
    assert attempt_row.next_action["kind"] == "redirect"
    initialized = simulator.requests[-1][2]
    assert initialized["amount"] == 15000 and initialized["email"] == "john@example.com"  # the payment's customer
    assert initialized["callback_url"] == f"{paystack_gateway.url}/checkout/{payment_id}"  # its public page
    async with httpx.AsyncClient() as browser:
        back = await browser.post(attempt_row.next_action["data"]["url"], data={"card_number": PAYING_CARD})
    assert back.status_code == 302
    assert f"/checkout/{payment_id}?trxref={attempt_row.provider_reference}" in back.headers["location"]
    await wait_status(engine, payment_id, "success")


# -- review: money and ambiguity -------------------------------------------------------------------------------


async def test_a_signed_success_for_another_amount_or_currency_does_not_pay_the_payment(
    paystack_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    """Paystack's advice: compare the amount and currency before giving value. A success for less (or in
    another currency) fails the attempt, closed, rather than paying the payment or waiting forever."""
    simulator = paystack_gateway.simulator
    for n, (amount, currency) in enumerate([(100, "GHS"), (10000, "NGN"), (10001, "GHS")]):
        payment_id = await pay_by_phone(paystack_gateway, engine, "0551234985")  # stays pending at Paystack
        reference = list(simulator.transactions)[n]
        assert simulator.transactions[reference]["amount"] == 10000  # 100 GHS in pesewas
        short = simulator.event("charge.success", {"reference": reference, "status": "success",
                                                   "amount": amount, "currency": currency})  # fmt: skip
        assert await simulator.deliver(short) == 200
        async with engine.connect() as conn:
            attempt_row = (await conn.execute(select(attempts).where(attempts.c.payment_id == payment_id))).one()
        assert (attempt_row.status, attempt_row.failure_code) == ("failed", "amount_mismatch")
        assert await payment_status(engine, payment_id) == "pending"  # open for another try, never paid
    # The right amount pays.
    payment_id = await pay_by_phone(paystack_gateway, engine, "0551234985")
    reference = list(simulator.transactions)[3]
    exact = simulator.event("charge.success", {"reference": reference, "status": "success",
                                               "amount": 10000, "currency": "GHS"})  # fmt: skip
    assert await simulator.deliver(exact) == 200
    assert await payment_status(engine, payment_id) == "success"


async def test_a_5xx_on_a_charge_or_transfer_is_ambiguous_never_unavailable(
    connector: PaystackConnector, simulator: PaystackSimulator
) -> None:
    """A 503 after the request was sent may follow an acceptance (the push on the handset, the transfer under
    way): ``ProviderUnavailable`` would let routing send the same payment to another account and charge twice."""
    simulator.fail_next("/charge", 503)
    with pytest.raises(PaystackError):
        await connector.start(attempt("mtn_gh", 100, phone="233551234987", n=7), CALLBACK)
    simulator.fail_next("/transfer", 503)
    found = CATALOGUE.payout_methods["mtn_gh"]
    with pytest.raises(PaystackError):
        await connector.payout(PayoutRequest("po_0000000000000007", found, 100, "GHS",
                                             {"msisdn": "233551234987"}), CALLBACK)  # fmt: skip


def test_a_success_reports_the_requested_amount_and_the_fees_must_cover_it() -> None:
    """Fees passed to customers make ``amount`` the requested amount plus the fee: the requested amount is what
    the gateway compares; less taken than requested, or a fraction of a main unit, fails here."""
    cases = [
        ({"amount": 10150, "requested_amount": 10000}, (AttemptStatus.SUCCESS, 100)),
        ({"amount": 10000}, (AttemptStatus.SUCCESS, 100)),
        ({"amount": 9000, "requested_amount": 10000}, (AttemptStatus.FAILED, None)),
        ({"amount": 10050}, (AttemptStatus.FAILED, None)),
        ({"amount": "10000"}, (AttemptStatus.FAILED, None)),
    ]
    for data, (status, amount) in cases:
        outcome = paid_outcome("att_1", data["amount"], "GHS", data.get("requested_amount"))
        assert (outcome.status, outcome.amount) == (status, amount), data
        assert outcome.failure_code == (None if status is AttemptStatus.SUCCESS else "amount_mismatch")


async def test_a_live_payout_is_settled_by_the_transfer_event_at_the_one_webhook_url(
    paystack_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    """Paystack posts every event to the one URL of its dashboard, ``/connectors/{account}/callback``: a transfer
    event there ends its payout (once), so no second URL is needed."""
    simulator, merchant = paystack_gateway.simulator, paystack_gateway.merchant
    simulator.duplicate_webhooks = True
    payment_id = await pay_by_phone(paystack_gateway, engine, "0551234987")
    await wait_status(engine, payment_id, "success")
    async with httpx.AsyncClient(base_url=paystack_gateway.url, headers=merchant.headers) as api:
        body = payout_body(amount=60, currency="GHS", method="mtn_gh", recipient={"msisdn": "233551234987"})
        created = await api.post("/v1/payouts/initialize", json=body)
        assert created.status_code == 201, created.text
        payout_id = created.json()["data"]["id"]
        [transfer] = simulator.transfers.values()
        assert (transfer["reference"], transfer["amount"]) == (payout_id, 6000)
        await until(lambda: len(simulator.deliveries) == 2 and len(simulator.deliveries[1].answers) == 2, "the event")
        assert simulator.deliveries[1].answers == [200, 200]
        shown = (await api.get(f"/v1/payouts/{payout_id}/verify")).json()["data"]
        assert shown["status"] == "success"
        # Forged, the same event is refused at that URL.
        one_url = f"/connectors/{paystack_gateway.account_id}/callback"
        forged = await api.post(one_url, content=simulator.deliveries[1].body,
                                headers={"x-paystack-signature": "0" * 128})  # fmt: skip
        assert forged.status_code == 400
    async with engine.connect() as conn:
        kinds = (await conn.execute(select(events.c.type).where(events.c.payout_id == payout_id))).scalars().all()
    assert list(kinds).count("payout.success") == 1


async def test_a_refund_event_naming_its_refund_is_applied_at_the_one_webhook_url(
    paystack_gateway: LiveGateway, engine: AsyncEngine
) -> None:
    simulator, merchant = paystack_gateway.simulator, paystack_gateway.merchant
    payment_id = await pay_by_phone(paystack_gateway, engine, "0551234987")
    await wait_status(engine, payment_id, "success")
    async with httpx.AsyncClient(base_url=paystack_gateway.url, headers=merchant.headers) as api:
        created = await api.post(f"/v1/payments/{payment_id}/refund", json={"amount": 30})
        assert created.status_code == 201, created.text
        refund_id = created.json()["data"]["id"]
        # Paystack's refund events carry the merchant note Cauri wrote when it comes back (needs-attention does).
        event = simulator.event(
            "refund.processed", {"status": "processed", "merchant_note": f"Cauri refund {refund_id}"}
        )
        assert await simulator.deliver(event) == 200
        assert event.answers == [200]
        shown = (await api.get(f"/v1/payments/{payment_id}/verify")).json()["data"]
    assert ([r["status"] for r in shown["refunds"]], shown["amount_refunded"]) == (["success"], 30)


@pytest.mark.parametrize(
    ("status", "refused"),
    [(400, True), (422, True), (401, False), (403, False), (429, False)],  # the key and the rate are the account's
)
def test_a_refusal_of_the_request_spares_the_breaker_but_not_a_refused_key_or_rate(status: int, refused: bool) -> None:
    from cauri.connectors.base import ProviderUnavailable, RequestRefused
    from cauri.connectors.paystack import _answer

    request = httpx.Request("POST", "http://127.0.0.1:9/charge")
    with pytest.raises(ProviderUnavailable) as raised:
        _answer("POST", "/charge", httpx.Response(status, json={"status": False, "message": "no"}, request=request))
    assert isinstance(raised.value, RequestRefused) is refused
