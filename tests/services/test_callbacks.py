"""Where connectors are told to send their notifications: real providers the gateway's public url (they call
from the internet), the in-process sandbox the url where the process reaches itself."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.services.callbacks import CallbackBase, as_callback_base
from cauri.settings import Settings
from tests.conftest import new_merchant, payment_body
from tests.providers_stub import StubProvider, stub_providers


def test_providers_get_the_public_url_and_the_sandbox_the_internal_one() -> None:
    settings = Settings(public_url="https://pay.example.com/", host="0.0.0.0", port=8123)  # noqa: S104
    base = CallbackBase.of(settings)
    assert base.payment("pa_0123456789abcdef") == "https://pay.example.com/connectors/pa_0123456789abcdef/callback"
    assert base.payout("pa_x") == "https://pay.example.com/connectors/pa_x/payouts/callback"
    assert base.refund("pa_x") == "https://pay.example.com/connectors/pa_x/refunds/callback"
    assert base.payment("sandbox") == "http://127.0.0.1:8123/connectors/sandbox/callback"
    assert base.payout("sandbox") == "http://127.0.0.1:8123/connectors/sandbox/payouts/callback"
    assert base.refund("sandbox") == "http://127.0.0.1:8123/connectors/sandbox/refunds/callback"


def test_a_plain_url_serves_every_connector() -> None:
    base = as_callback_base("http://127.0.0.1:9000/")
    assert base.payment("sandbox") == "http://127.0.0.1:9000/connectors/sandbox/callback"
    assert base.refund("pa_x") == "http://127.0.0.1:9000/connectors/pa_x/refunds/callback"
    assert as_callback_base(base) is base


@pytest.fixture
def stub() -> Iterator[StubProvider]:
    with stub_providers(1) as (started,):
        yield started


async def test_a_live_attempt_tells_the_provider_the_public_url(
    settings: Settings, engine: AsyncEngine, stub: StubProvider
) -> None:
    everywhere = "0.0.0.0"  # noqa: S104 - the address a server behind a proxy binds; nothing binds it here
    public = settings.model_copy(update={"public_url": "https://pay.example.com", "host": everywhere, "port": 8123})
    merchant = await new_merchant(engine, live=True)
    transport = httpx.ASGITransport(app=create_app(public, engine))
    async with httpx.AsyncClient(transport=transport, base_url="https://pay.example.com") as client:
        body = {"provider": "stub", "label": "Stub", "credentials": {"api_key": "good-key"}, "base_url": stub.url}
        added = await client.post("/v1/providers", json=body, headers=merchant.headers)
        assert added.status_code == 201, added.text
        account_id = added.json()["data"]["id"]
        created = await client.post("/v1/payments/initialize", headers=merchant.headers,
                                    json=payment_body(currency="XOF", amount=5000, methods=["mtn_bj"]))  # fmt: skip
        payment_id = created.json()["data"]["id"]
        page = await client.get(f"/checkout/{payment_id}")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        form = {"csrf": csrf, "method": "mtn_bj", "phone": "0197123456"}
        assert (await client.post(f"/checkout/{payment_id}/pay", data=form)).status_code == 303
    [collected] = stub.collected
    assert collected["callback"] == f"https://pay.example.com/connectors/{account_id}/callback"
