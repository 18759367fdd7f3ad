"""Idempotency-Key on initialize and process."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.clock import utcnow
from cauri.store.tables import idempotency_keys, payments
from tests.conftest import MerchantApp, new_merchant, payment_body


async def payments_of(engine: AsyncEngine, app_id: str) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(payments).where(payments.c.app_id == app_id)
        return int((await conn.execute(query)).scalar_one())


async def test_same_key_same_body_replays_the_first_response(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "order-123-attempt"}
    first = await client.post("/v1/payments/initialize", json=payment_body(), headers=headers)
    second = await client.post("/v1/payments/initialize", json=payment_body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await payments_of(engine, merchant.id) == 1


async def test_key_order_in_the_body_does_not_matter(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "k-order"}
    body = payment_body()
    reordered = dict(reversed(list(body.items())))
    first = await client.post("/v1/payments/initialize", json=body, headers=headers)
    second = await client.post("/v1/payments/initialize", json=reordered, headers=headers)
    assert second.json()["data"]["id"] == first.json()["data"]["id"]


async def test_same_key_different_body_is_422(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "k-1"}
    await client.post("/v1/payments/initialize", json=payment_body(), headers=headers)
    other = await client.post("/v1/payments/initialize", json=payment_body(amount=999), headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["message"]
    assert await payments_of(engine, merchant.id) == 1


async def test_a_failed_request_does_not_burn_its_key(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "k-fix"}
    bad = await client.post("/v1/payments/initialize", json=payment_body(amount=-1), headers=headers)
    assert bad.status_code == 422
    good = await client.post("/v1/payments/initialize", json=payment_body(), headers=headers)
    assert good.status_code == 201
    assert await payments_of(engine, merchant.id) == 1


async def test_keys_are_scoped_per_app(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    one, two = await new_merchant(engine), await new_merchant(engine)
    a = await client.post(
        "/v1/payments/initialize", json=payment_body(), headers={**one.headers, "Idempotency-Key": "same"}
    )
    b = await client.post(
        "/v1/payments/initialize", json=payment_body(), headers={**two.headers, "Idempotency-Key": "same"}
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["data"]["id"] != b.json()["data"]["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "clé".encode(), "two words"])
async def test_malformed_keys_are_400(client: httpx.AsyncClient, merchant: MerchantApp, key: str | bytes) -> None:
    headers = {**merchant.headers, "Idempotency-Key": key}
    response = await client.post("/v1/payments/initialize", json=payment_body(), headers=headers)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["message"]


async def test_concurrent_requests_with_one_key_make_exactly_one_payment(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post("/v1/payments/initialize", json=payment_body(), headers=headers) for _ in range(8))
    )
    created = [r for r in responses if r.status_code == 201]
    assert all(r.status_code in (201, 409) for r in responses), [r.status_code for r in responses]
    assert created, "at least one request succeeds"
    assert {r.json()["data"]["id"] for r in created} == {created[0].json()["data"]["id"]}
    assert await payments_of(engine, merchant.id) == 1


async def test_expired_key_can_be_used_afresh(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "k-expire"}
    first = await client.post("/v1/payments/initialize", json=payment_body(), headers=headers)
    async with engine.begin() as conn:
        await conn.execute(idempotency_keys.update().values(expires_at=utcnow()))
    second = await client.post("/v1/payments/initialize", json=payment_body(), headers=headers)
    assert second.status_code == 201
    assert second.json()["data"]["id"] != first.json()["data"]["id"]
    assert await payments_of(engine, merchant.id) == 2


async def test_a_request_in_flight_holds_its_key(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: object
) -> None:
    """While another transaction holds the key uncommitted, a second request waits briefly, then gets 409
    (PostgreSQL: lock_timeout) or, on SQLite whose single writer is busy, 503; it never creates a payment."""
    from cauri.store.engine import create_engine

    blocker = create_engine(settings)  # type: ignore[arg-type]
    try:
        async with blocker.connect() as held:
            trans = await held.begin()
            now = utcnow()
            await held.execute(
                idempotency_keys.insert().values(
                    app_id=merchant.id,
                    environment="sandbox",
                    key="in-flight",
                    request_hash=b"\0" * 32,
                    status_code=201,
                    response=b"{}",
                    created_at=now,
                    expires_at=now,
                )
            )
            headers = {**merchant.headers, "Idempotency-Key": "in-flight"}
            if engine.dialect.name == "sqlite":
                async with engine.connect() as conn:  # make SQLite give up as fast as lock_timeout does
                    await conn.exec_driver_sql("PRAGMA busy_timeout=300")
            response = await client.post("/v1/payments/initialize", json=payment_body(), headers=headers)
            await trans.rollback()
    finally:
        await blocker.dispose()
    expected = 503 if engine.dialect.name == "sqlite" else 409
    assert response.status_code == expected, response.text
    assert response.json()["success"] is False
    assert await payments_of(engine, merchant.id) == 0


async def test_reuse_with_another_body_names_the_header(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "k-named"}
    await client.post("/v1/payments/initialize", json=payment_body(), headers=headers)
    other = await client.post("/v1/payments/initialize", json=payment_body(amount=7), headers=headers)
    assert other.json()["errors"] == {"Idempotency-Key": [other.json()["message"]]}
