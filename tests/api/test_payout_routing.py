"""Live payouts routed to a merchant's provider accounts, on both databases, against stub providers served over
real HTTP on loopback: the first account (routing order) whose provider pays out with the method takes it,
failover only when nothing can have been sent, none after an ambiguous answer, and a payout no provider could be
reached for fails and gives its amount back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.services.runtime import Runtime
from cauri.settings import Settings
from cauri.store.tables import payouts
from tests.api.test_payouts import payout_body
from tests.checkout.test_provider_routing import add_account, attempts_of, live_payment, notify, pay
from tests.conftest import MerchantApp, new_merchant, runtime_of
from tests.providers_stub import StubProvider, sign, stub_providers

RECIPIENT = {"msisdn": "2290197123456"}


@pytest.fixture
def stubs() -> Iterator[list[StubProvider]]:
    with stub_providers(2) as started:
        yield started


@pytest.fixture
async def live(engine: AsyncEngine) -> MerchantApp:
    return await new_merchant(engine, live=True)


@pytest.fixture
async def runtime(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Runtime]:
    rt = runtime_of(settings, engine)
    yield rt
    await rt.connectors.close()


async def funded(client: httpx.AsyncClient, runtime: Runtime, engine: AsyncEngine, merchant: MerchantApp,
                 account_id: str) -> None:  # fmt: skip
    """A live balance of 5000 XOF, collected through ``account_id`` and settled by its signed notification."""
    payment_id = await live_payment(client, merchant)
    await pay(runtime, payment_id)
    [attempt] = await attempts_of(engine, payment_id)
    assert (await notify(client, account_id, "good-key", attempt.id, "success")).json()["applied"] is True


async def payout_row(engine: AsyncEngine, payout_id: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(payouts).where(payouts.c.id == payout_id))).one()


async def initialize(client: httpx.AsyncClient, merchant: MerchantApp, amount: int = 2000) -> str:
    body = payout_body(amount=amount, currency="XOF", method="mtn_bj", recipient=RECIPIENT)
    created = await client.post("/v1/payouts/initialize", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    payout_id: str = created.json()["data"]["id"]
    return payout_id


def notify_payout(client: httpx.AsyncClient, account_id: str, payout_id: str, status: str) -> Any:
    body = orjson.dumps({"payout_id": payout_id, "status": status})
    headers = {"x-stub-signature": sign("good-key", body)}
    return client.post(f"/connectors/{account_id}/payouts/callback", content=body, headers=headers)


async def available(client: httpx.AsyncClient, merchant: MerchantApp) -> int:
    balances = (await client.get("/v1/balances", headers=merchant.headers)).json()["data"]
    return int(next(b["available"] for b in balances if b["currency"] == "XOF"))


async def test_an_unreachable_account_passes_the_payout_to_the_next_which_settles_it_once(
    client: httpx.AsyncClient, engine: AsyncEngine, live: MerchantApp, runtime: Runtime, stubs: list[StubProvider]
) -> None:
    down, up = stubs
    first = await add_account(client, live, down, "Down", priority=1)
    second = await add_account(client, live, up, "Up", priority=2)
    await funded(client, runtime, engine, live, first)
    down.mode = "unavailable"
    payout_id = await initialize(client, live)

    row = await payout_row(engine, payout_id)
    assert (row.status, row.connector, row.provider_reference) == ("pending", second, f"ref-{payout_id}")
    assert down.paid_out == [] and [p["id"] for p in up.paid_out] == [payout_id]
    assert up.paid_out[0]["recipient"] == RECIPIENT
    # Only the account holding it may settle it, once.
    assert (await notify_payout(client, first, payout_id, "success")).json()["applied"] is False
    assert (await notify_payout(client, second, payout_id, "success")).json()["applied"] is True
    assert (await notify_payout(client, second, payout_id, "success")).json()["applied"] is False
    shown = (await client.get(f"/v1/payouts/{payout_id}/verify", headers=live.headers)).json()["data"]
    assert shown["status"] == "success"
    assert await available(client, live) == 3000


async def test_no_failover_after_an_ambiguous_answer(
    client: httpx.AsyncClient, engine: AsyncEngine, live: MerchantApp, runtime: Runtime, stubs: list[StubProvider]
) -> None:
    slow, other = stubs
    first = await add_account(client, live, slow, "Slow", priority=1)
    await add_account(client, live, other, "Other", priority=2)
    await funded(client, runtime, engine, live, first)
    slow.mode = "hang"  # it took the payout, its answer comes too late: paying again elsewhere could pay twice
    payout_id = await initialize(client, live)

    row = await payout_row(engine, payout_id)
    assert (row.status, row.connector) == ("pending", first)
    assert len(slow.paid_out) == 1 and other.paid_out == []
    assert await available(client, live) == 3000  # still set aside


async def test_a_payout_no_account_could_take_fails_and_gives_its_amount_back(
    client: httpx.AsyncClient, engine: AsyncEngine, live: MerchantApp, runtime: Runtime, stubs: list[StubProvider]
) -> None:
    down, also_down = stubs
    first = await add_account(client, live, down, "Down", priority=1)
    await add_account(client, live, also_down, "Also down", priority=2)
    await funded(client, runtime, engine, live, first)
    down.mode = also_down.mode = "unavailable"
    payout_id = await initialize(client, live)

    row = await payout_row(engine, payout_id)
    assert (row.status, row.failure_code) == ("failed", "provider_unavailable")
    assert down.calls >= 2 and also_down.paid_out == []  # both asked (a payment, then the payout), none took it
    assert await available(client, live) == 5000


async def test_an_account_pays_out_with_every_payout_method_of_its_provider(
    client: httpx.AsyncClient, engine: AsyncEngine, live: MerchantApp, runtime: Runtime, stubs: list[StubProvider]
) -> None:
    """An account's ``methods`` choose what it collects; payouts follow the provider (decision stated in
    ``domain.providers.payout_order``): here an account collecting moov_bj only pays out to an MTN number."""
    stub = stubs[0]
    collecting = await add_account(client, live, stub, "All", priority=1)
    await add_account(client, live, stubs[1], "Moov only", priority=0, methods=["moov_bj"])
    await funded(client, runtime, engine, live, collecting)
    payout_id = await initialize(client, live)
    row = await payout_row(engine, payout_id)
    assert row.status == "pending" and [p["id"] for p in stubs[1].paid_out] == [payout_id]
    # Removing the account stops payouts reaching it; the other takes the next one.
    removed = await client.delete(f"/v1/providers/{row.connector}", headers=live.headers)
    assert removed.status_code in (200, 204), removed.text
    following = await payout_row(engine, await initialize(client, live, amount=1000))
    assert following.connector == collecting and [p["id"] for p in stub.paid_out] == [following.id]
