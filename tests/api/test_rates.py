"""``GET /v1/rates``: authenticated, in the envelope, the pegs and the rates set with their freshness."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.services.rates import set_rate
from cauri.store.tables import rates
from tests.conftest import MerchantApp, uow


@pytest.fixture
async def clean(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Rates are global and the test database is shared: none before, none after."""
    async with engine.begin() as conn:
        await conn.execute(delete(rates))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(delete(rates))


async def test_rates_are_listed_to_a_key_holder(
    client: httpx.AsyncClient, merchant: MerchantApp, clean: AsyncEngine
) -> None:
    await set_rate(uow(clean), "USD", "NGN", "1550.25")
    answer = await client.get("/v1/rates", headers=merchant.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["message"] == "Rates fetched successfully"
    assert [(r["base"], r["quote"], r["rate"], r["source"], r["fresh"]) for r in body["data"]] == [
        ("EUR", "XAF", "655.957", "peg", True),
        ("EUR", "XOF", "655.957", "peg", True),
        ("USD", "NGN", "1550.25", "operator", True),
    ]


async def test_rates_want_a_key(client: httpx.AsyncClient, clean: AsyncEngine) -> None:
    answer = await client.get("/v1/rates", headers={"Accept": "application/json"})
    assert answer.status_code == 401
    assert answer.json()["message"]  # the envelope, not a bare error page
