"""Hostile webhook endpoints and targets: one deleted mid-flight, secrets that cannot sign, and addresses that
smuggle a private IPv4 inside IPv6. Receivers are on loopback; the SSRF guard is exercised with address
strings, never by sending."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.apps import Scope
from cauri.domain.clock import utcnow
from cauri.domain.errors import ValidationFailed
from cauri.domain.webhooks import MAX_ATTEMPTS, is_public_address, new_secret
from cauri.services import webhooks as webhook_service
from cauri.services.webhooks import NewEndpoint, claim_deliveries, record_tries, validate_endpoint
from cauri.settings import Settings
from cauri.store.tables import deliveries, delivery_attempts
from cauri.workers.dispatcher import Dispatcher
from tests.conftest import MerchantApp, payment_body, runtime_of, uow
from tests.outbox.conftest import Receiver, _serve_receiver, check_signatures


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve_receiver()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_retry_scale": 0.00001, "webhook_timeout_seconds": 5, "dispatcher_batch": 500}
    )


async def register(engine: AsyncEngine, settings: Settings, merchant: MerchantApp, url: str,
                   secret: str | None = None, *, live: bool = False) -> str:  # fmt: skip
    """An endpoint written without the API's checks, as an older release (or another path) could have."""
    scope = Scope(merchant.id, "live" if live else "sandbox")
    endpoint = NewEndpoint(url, secret or new_secret(), None)
    created = await webhook_service.add_endpoint(uow(engine), scope, endpoint, settings.secret)
    return str(created["id"])


async def pay(client: httpx.AsyncClient, merchant: MerchantApp, count: int = 1) -> None:
    for _ in range(count):
        response = await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
        assert response.status_code == 201, response.text


async def statuses(engine: AsyncEngine, endpoint_id: str) -> list[str]:
    async with engine.connect() as conn:
        query = select(deliveries.c.status).where(deliveries.c.endpoint_id == endpoint_id)
        return list((await conn.execute(query)).scalars().all())


async def tries(engine: AsyncEngine, endpoint_id: str) -> list[Any]:
    async with engine.connect() as conn:
        query = (
            select(delivery_attempts.c.status_code, delivery_attempts.c.error)
            .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
            .where(deliveries.c.endpoint_id == endpoint_id)
        )
        return list((await conn.execute(query)).all())


# Deleted endpoints


async def test_a_delivery_in_flight_when_its_endpoint_is_deleted_is_not_rearmed(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, fast: Settings, receiver: Receiver
) -> None:
    created = await client.post("/v1/webhooks", json={"url": receiver.url}, headers=merchant.headers)
    endpoint_id = created.json()["data"]["id"]
    receiver.answers = [500]  # the try in flight fails: it would be retried
    await pay(client, merchant)
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        claimed = await claim_deliveries(uow(engine), utcnow() + timedelta(seconds=60), 1000)
        claims = [c for c in claimed if c.delivery_id.endswith(endpoint_id)]
        assert len(claims) == 1
        deleted = await client.delete(f"/v1/webhooks/{endpoint_id}", headers=merchant.headers)
        assert deleted.status_code == 200
        result = await dispatcher.deliver(claims[0])  # it was already on its way
        assert result.outcome == "pending"
        await record_tries(uow(engine), [result])
        assert await statuses(engine, endpoint_id) == ["failed"]
        assert [t.status_code for t in await tries(engine, endpoint_id)] == [500]  # the try is still logged
        await asyncio.sleep(0.05)
        await dispatcher.run_once()
    finally:
        await dispatcher.close()
    assert len(receiver.received) == 1


async def test_a_pending_delivery_of_a_disabled_endpoint_is_never_sent(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, fast: Settings, receiver: Receiver
) -> None:
    """An event written while its endpoint was being deleted (the two transactions overlapped)."""
    created = await client.post("/v1/webhooks", json={"url": receiver.url}, headers=merchant.headers)
    endpoint_id = created.json()["data"]["id"]
    await pay(client, merchant)
    assert (await client.delete(f"/v1/webhooks/{endpoint_id}", headers=merchant.headers)).status_code == 200
    async with engine.begin() as conn:
        await conn.execute(update(deliveries).where(deliveries.c.endpoint_id == endpoint_id).values(status="pending"))
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        await dispatcher.run_once()
    finally:
        await dispatcher.close()
    assert receiver.arrived == 0
    assert await statuses(engine, endpoint_id) == ["failed"]


# Secrets


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_" + "!" * 40,  # decoded leniently, this was an empty HMAC key
        "whsec_" + "A" * 33,  # not base64 at all (bad padding)
        "whsec_" + base64.b64encode(b"k" * 8).decode(),  # too short a key
        "whsec_" + base64.b64encode(b"k" * 65).decode(),  # too long
        "whsec_" + base64.urlsafe_b64encode(b"\xfb" * 24).decode(),  # the URL-safe alphabet
    ],
)
async def test_a_whsec_secret_must_be_base64_of_a_real_key(
    client: httpx.AsyncClient, merchant: MerchantApp, secret: str
) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "secret": secret}, headers=merchant.headers
    )
    assert response.status_code == 422, response.text
    assert "whsec_" in response.json()["errors"]["secret"][0]
    with pytest.raises(ValidationFailed):  # the CLI's path
        validate_endpoint({"url": "http://127.0.0.1:9/x", "secret": secret}, "sandbox", Settings())


def test_good_secrets_are_accepted() -> None:
    for secret in (new_secret(), "whsec_" + base64.b64encode(b"k" * 64).decode(), "a plain typed secret!"):
        assert validate_endpoint({"url": "http://127.0.0.1:9/x", "secret": secret}, "sandbox", Settings()).secret


async def test_a_stored_secret_that_cannot_sign_ends_failed_after_its_tries(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    merchant: MerchantApp,
    settings: Settings,
    fast: Settings,
    receiver: Receiver,
) -> None:
    """Stored before secrets were checked: every try is recorded with its reason and counted, so the delivery
    ends failed after the last one (it used to fail silently, forever, with no try recorded)."""
    endpoint_id = await register(engine, settings, merchant, receiver.url, "whsec_" + "A" * 33)
    await pay(client, merchant)
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        deadline = time.monotonic() + 20
        while await statuses(engine, endpoint_id) == ["pending"] and time.monotonic() < deadline:
            if not await dispatcher.run_once():
                await asyncio.sleep(0.02)
    finally:
        await dispatcher.close()
    assert await statuses(engine, endpoint_id) == ["failed"]
    recorded = await tries(engine, endpoint_id)
    assert len(recorded) == MAX_ATTEMPTS
    assert all(t.status_code is None and "whsec_" in t.error for t in recorded)
    assert receiver.arrived == 0


async def test_valid_secrets_still_sign_as_before(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, fast: Settings, receiver: Receiver
) -> None:
    secret = "whsec_" + base64.b64encode(b"s" * 64).decode()
    created = await client.post("/v1/webhooks", json={"url": receiver.url, "secret": secret}, headers=merchant.headers)
    assert created.status_code == 201
    await pay(client, merchant)
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        await dispatcher.run_once()
    finally:
        await dispatcher.close()
    [(headers, body)] = receiver.received
    check_signatures(headers, body, secret)


# Addresses


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 (RFC 6052) of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata service
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::808:808",  # local-use NAT64 (RFC 8215): a network's own translator
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::808:808",  # IPv4-compatible (deprecated) even for a public IPv4
        "::ffff:a9fe:a9fe",  # IPv4-mapped 169.254.169.254
    ],
)
def test_ipv6_forms_that_embed_a_private_ipv4_are_refused(address: str) -> None:
    assert not is_public_address(address)


def test_ipv6_forms_that_embed_a_public_ipv4_are_allowed() -> None:
    """An IPv6-only host with DNS64 sees every IPv4-only receiver as 64:ff9b::a.b.c.d."""
    for address in ("64:ff9b::808:808", "2002:808:808::1", "::ffff:808:808", "2606:4700:4700::1111"):
        assert is_public_address(address), address
