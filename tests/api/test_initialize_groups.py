"""Payments that arrive together are stored together (PostgreSQL: ``store/pg_group.py``; SQLite: the writer's
group commit): each request still gets its own payment, or its own replay, whatever the others in its group do.
How requests share a loop's turn over this transport varies, so ``tests/store/test_pg_group.py`` makes the
groups for certain; here the answers are checked."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.store.tables import events, idempotency_keys, payments
from tests.conftest import MerchantApp, payment_body

PATH = "/v1/payments/initialize"


async def count(engine: AsyncEngine, table: Any, merchant: MerchantApp) -> int:
    """The merchant's rows (the database is shared by the tests of a run)."""
    query = select(func.count()).select_from(table).where(table.c.app_id == merchant.id)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def post(client: httpx.AsyncClient, merchant: MerchantApp, key: str | None, **body: Any) -> httpx.Response:
    headers = {**merchant.headers, **({"Idempotency-Key": key} if key else {})}
    return await client.post(PATH, json=payment_body(**body), headers=headers)


async def test_a_burst_stores_every_payment_with_its_event_and_key(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    assert (await post(client, merchant, None)).status_code == 201  # the key's owner is cached from here on
    keys = [f"burst-{n}" for n in range(20)] + [None] * 4
    answers = await asyncio.gather(*(post(client, merchant, key, amount=100 + n) for n, key in enumerate(keys)))
    assert [a.status_code for a in answers] == [201] * len(keys)
    ids = [a.json()["data"]["id"] for a in answers]
    assert len(set(ids)) == len(keys)
    assert await count(engine, payments, merchant) == await count(engine, events, merchant) == len(keys) + 1
    assert await count(engine, idempotency_keys, merchant) == 20
    # Each key answers its own payment again, amount included.
    again = await post(client, merchant, "burst-7", amount=107)
    assert again.headers["idempotent-replayed"] == "true" and again.json()["data"]["id"] == ids[7]
    verified = await client.get(f"/v1/payments/{ids[7]}/verify", headers=merchant.headers)
    assert verified.json()["data"]["amount"] == 107


async def test_a_replay_or_a_twin_in_a_group_does_not_cost_the_others_their_payment(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    first = await post(client, merchant, "stored-before")
    assert first.status_code == 201
    keys = ["fresh-1", "fresh-2", "stored-before", "fresh-3", "twin", "twin", "fresh-4"]
    answers = await asyncio.gather(*(post(client, merchant, key) for key in keys))
    assert [a.status_code for a in answers] == [201] * len(keys), [a.text for a in answers]
    by_key: dict[str, set[str]] = {}
    for key, answer in zip(keys, answers, strict=True):
        by_key.setdefault(key, set()).add(answer.json()["data"]["id"])
    assert by_key["stored-before"] == {first.json()["data"]["id"]}
    assert len(by_key["twin"]) == 1  # one payment, answered twice
    replayed = [a.headers.get("idempotent-replayed") == "true" for a in answers]
    assert sum(replayed) == 2 and replayed[2]
    assert await count(engine, payments, merchant) == await count(engine, events, merchant) == 1 + 5
