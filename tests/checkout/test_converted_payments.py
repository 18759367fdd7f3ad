"""The seed's own request (100 USD, methods ``qr_ngn`` and ``bank_transfer_ngn``) on real databases: offered in
naira at the operator's rate, paid, and verified with the rate and the amount debited; a rate too old leaves the
methods out and says why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.api.openapi import openapi_document
from cauri.connectors.base import RefundRequest
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.apps import Scope
from cauri.domain.clock import utcnow
from cauri.domain.refunds import RefundRequest as Asked
from cauri.services.apps import set_rate_margin
from cauri.services.idempotency import StoredResponse
from cauri.services.rates import set_rate
from cauri.services.refunds import refund_payment
from cauri.settings import Settings
from cauri.store.tables import attempts, rates
from tests.api.test_response_schemas import Contract
from tests.checkout.test_attempts import notification
from tests.conftest import MerchantApp, payment_body, uow

SEED = {"amount": 100, "currency": "USD", "methods": ["qr_ngn", "bank_transfer_ngn"]}


@pytest.fixture
async def no_rates(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Rates are global to the gateway and the test database is shared: each test starts and ends with none."""
    async with engine.begin() as conn:
        await conn.execute(delete(rates))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(delete(rates))


async def seed_payment(client: httpx.AsyncClient, merchant: MerchantApp) -> str:
    created = await client.post("/v1/payments/initialize", json=payment_body(**SEED), headers=merchant.headers)
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["data"]["id"]
    return payment_id


async def pay(client: httpx.AsyncClient, payment_id: str, method: str) -> httpx.Response:
    page = await client.get(f"/checkout/{payment_id}?lang=en")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    return await client.post(f"/checkout/{payment_id}/pay?lang=en", data={"csrf": token, "method": method})


async def locked(engine: AsyncEngine, payment_id: str) -> dict[str, object]:
    c = attempts.c
    query = select(c.id, c.rate, c.correction_rate, c.amount_debited, c.currency_debited)
    async with engine.connect() as conn:
        row = (await conn.execute(query.where(c.payment_id == payment_id))).one()
    return dict(row._mapping)


@pytest.mark.parametrize("method", ["qr_ngn", "bank_transfer_ng"])
async def test_the_seeds_request_is_paid_in_naira_and_verify_shows_the_rate_and_the_amount_debited(
    client: httpx.AsyncClient, engine: AsyncEngine, no_rates: AsyncEngine, merchant: MerchantApp, settings: Settings,
    method: str,
) -> None:  # fmt: skip
    await set_rate(uow(engine), "USD", "NGN", "1550.25")
    payment_id = await seed_payment(client, merchant)
    # The page shows one kind of method at a time: both are offered, each with both amounts.
    for kind, code in (("qr", "qr_ngn"), ("bank_transfer", "bank_transfer_ng")):
        page = await client.get(f"/checkout/{payment_id}?lang=en&kind={kind}")
        assert f'value="{code}"' in page.text
        assert "$100 ≈ NGN\xa0155,025" in page.text
        assert "No payment method is available" not in page.text
    french = await client.get(f"/checkout/{payment_id}?lang=fr")
    assert "100\xa0$US ≈ 155\u202f025\xa0NGN" in french.text

    paid = await pay(client, payment_id, method)
    assert paid.status_code == 303, paid.text
    waiting = await client.get(f"/checkout/{payment_id}?lang=en")
    assert 'id="amount-due">NGN\xa0155,025</strong>' in waiting.text
    attempt = await locked(engine, payment_id)
    assert {k: v for k, v in attempt.items() if k != "id"} == {
        "rate": "1550.25", "correction_rate": "0", "amount_debited": 155_025, "currency_debited": "NGN",
    }  # fmt: skip
    # The rate changes after the attempt started: the attempt keeps the one it locked.
    await set_rate(uow(engine), "USD", "NGN", "1600")
    assert (await notification(client, settings.secret, str(attempt["id"]), "success")).status_code == 200

    verified = await client.get(f"/v1/payments/{payment_id}/verify", headers=merchant.headers)
    body = Contract(openapi_document("http://cauri.test")).check(
        verified, "get", "/v1/payments/{payment_id}/verify", 200
    )
    data = body["data"]
    assert (data["status"], data["amount"], data["currency"]["code"]) == ("success", 100, "USD")
    capture = data["capture"]
    assert capture["method"]["short_code"] == method
    assert (capture["amount"], capture["currency"]["code"]) == (100, "USD")  # the payment's, never changed
    assert capture["rate"] == "1550.25"
    assert capture["rate_formatted"] == "1 USD = 1,550.25 NGN"
    assert capture["correction_rate"] == "0"
    assert capture["metadata"] == {
        "amount_debited": 155_025, "amount_debited_formatted": "NGN 155,025", "currency_debited": "NGN",
    }  # fmt: skip


async def test_the_apps_margin_is_charged_and_recorded_as_the_correction_rate(
    client: httpx.AsyncClient, engine: AsyncEngine, no_rates: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    await set_rate(uow(engine), "USD", "NGN", "1550.25")
    app = await set_rate_margin(uow(engine), merchant.id, "2.5")
    assert str(app.rate_margin) == "0.025"
    payment_id = await seed_payment(client, merchant)
    assert "$100 ≈ NGN\xa0158,901" in (await client.get(f"/checkout/{payment_id}?lang=en")).text
    assert (await pay(client, payment_id, "qr_ngn")).status_code == 303
    attempt = await locked(engine, payment_id)
    assert (attempt["correction_rate"], attempt["amount_debited"]) == ("0.025", 158_901)  # 158,900.625 half up
    await notification(client, settings.secret, str(attempt["id"]), "success")
    capture = (await client.get(f"/v1/payments/{payment_id}/verify", headers=merchant.headers)).json()["data"][
        "capture"
    ]
    assert (capture["rate"], capture["correction_rate"], capture["metadata"]["amount_debited"]) == (
        "1550.25", "0.025", 158_901,
    )  # fmt: skip


async def test_a_rate_too_old_leaves_the_naira_methods_out_with_a_clear_message(
    client: httpx.AsyncClient, engine: AsyncEngine, no_rates: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    too_old = utcnow() - timedelta(hours=settings.rate_max_age_hours + 1)
    await set_rate(uow(engine), "USD", "NGN", "1550.25", now=too_old)
    payment_id = await seed_payment(client, merchant)
    page = await client.get(f"/checkout/{payment_id}?lang=en")
    assert 'value="qr_ngn"' not in page.text and 'value="bank_transfer_ng"' not in page.text
    assert "Payment in NGN is not available right now: no current USD→NGN exchange rate." in page.text
    assert "No payment method is available" not in page.text
    french = await client.get(f"/checkout/{payment_id}?lang=fr")
    assert "Le paiement en NGN n’est pas disponible pour le moment" in french.text
    refused = await pay(client, payment_id, "qr_ngn")
    assert refused.status_code == 422
    async with engine.connect() as conn:
        assert (await conn.execute(select(attempts.c.id).where(attempts.c.payment_id == payment_id))).all() == []


class RefundsAsked(SandboxConnector):
    """The sandbox, keeping what each refund asked it to give back."""

    def __init__(self) -> None:
        super().__init__(b"secret", 0)
        self.asked: list[tuple[int, str]] = []

    async def refund(self, request: RefundRequest, callback_url: str) -> str:
        self.asked.append((request.amount, request.currency))
        return await super().refund(request, callback_url)


async def test_a_refund_of_a_payment_paid_in_naira_gives_back_naira_at_the_locked_rate(
    client: httpx.AsyncClient, engine: AsyncEngine, no_rates: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    await set_rate(uow(engine), "USD", "NGN", "1550.25")
    payment_id = await seed_payment(client, merchant)
    assert (await pay(client, payment_id, "qr_ngn")).status_code == 303
    await notification(client, settings.secret, str((await locked(engine, payment_id))["id"]), "success")
    await set_rate(uow(engine), "USD", "NGN", "1700")  # a later rate changes nothing of what is given back
    provider = RefundsAsked()
    for amount in (33, None):  # a third, then all that is left
        await refund_payment(
            uow(engine), ConnectorRegistry(provider), Scope(merchant.id, "sandbox"), payment_id,
            Asked(amount=amount, reason=None), lambda r: StoredResponse(201, b""), None, "http://127.0.0.1:9",
        )  # fmt: skip
    assert provider.asked == [(51_158, "NGN"), (103_867, "NGN")]  # 51,158.25 and 103,866.75, half up
    assert sum(amount for amount, _ in provider.asked) == 155_025
