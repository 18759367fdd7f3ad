"""GET /v1/payments: filters and cursor pagination."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.apps import Scope
from cauri.domain.payments import PaymentStatus
from tests.conftest import MerchantApp, new_merchant, payment_body, uow


async def make(client: httpx.AsyncClient, merchant: MerchantApp, n: int, **overrides: object) -> list[str]:
    ids = []
    for i in range(n):
        body = payment_body(metadata={"order_id": f"o{i}", "batch": "b1"}, **overrides)
        response = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
        assert response.status_code == 201
        ids.append(response.json()["data"]["id"])
    return ids


async def test_pages_walk_every_payment_newest_first(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    merchant = await new_merchant(engine)
    ids = await make(client, merchant, 7)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/payments", params=params, headers=merchant.headers)).json()
        pages += 1
        seen += [p["id"] for p in body["data"]]
        assert body["meta"]["limit"] == 3
        if not body["meta"]["has_more"]:
            assert body["meta"]["next_cursor"] is None
            break
        cursor = body["meta"]["next_cursor"]
    assert pages == 3
    assert seen == list(reversed(ids))


async def test_filters(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    merchant = await new_merchant(engine)
    ids = await make(client, merchant, 3)
    other = await make(
        client, merchant, 1, customer={"email": "Ada@Example.com", "first_name": "Ada", "last_name": "L"}
    )
    scope = Scope(merchant.id, "sandbox")
    async with uow(engine) as tx:
        await tx.payments.move(ids[0], scope, PaymentStatus.CANCELLED)
        await tx.commit()

    async def listed(**params: str) -> list[str]:
        response = await client.get("/v1/payments", params=params, headers=merchant.headers)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["data"]]

    assert await listed(status="cancelled") == [ids[0]]
    assert set(await listed(status="initiated,cancelled")) == set(ids + other)
    assert await listed(customer_email="ada@example.com") == other
    assert await listed(**{"metadata[order_id]": "o1"}) == [ids[1]]
    assert await listed(**{"metadata[order_id]": "o1", "metadata[batch]": "b1"}) == [ids[1]]
    assert await listed(**{"metadata[order_id]": "nope"}) == []
    assert await listed(created_from="2000-01-01", created_to="2000-01-02") == []
    assert len(await listed(created_from="2000-01-01")) == 4
    assert len(await listed(created_to="2999-01-01T00:00:00Z")) == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "paid"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_bad_query_parameters_are_422(
    client: httpx.AsyncClient, merchant: MerchantApp, params: dict[str, str], field: str
) -> None:
    response = await client.get("/v1/payments", params=params, headers=merchant.headers)
    assert response.status_code == 422
    assert field in response.json()["errors"]
