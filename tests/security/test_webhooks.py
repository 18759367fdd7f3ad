"""Hostile webhook endpoints and targets, on each database: an endpoint that hangs, one deleted mid-flight, a
secret that cannot sign, addresses that smuggle a private IPv4 inside IPv6, and a name whose DNS answer
changes between the check and the connection. Receivers are on loopback; the SSRF guard is exercised with a
stub resolver, never by sending elsewhere."""

from __future__ import annotations

import asyncio
import base64
import contextlib
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
from cauri.workers import targets
from cauri.workers.dispatcher import Dispatcher
from tests.conftest import MerchantApp, new_merchant, payment_body, runtime_of, uow
from tests.outbox.conftest import Receiver, _serve_receiver, check_signatures


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve_receiver()


@pytest.fixture
def hanging() -> Iterator[Receiver]:
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


async def wait_until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# Isolation


async def test_a_hanging_endpoint_does_not_starve_the_others(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, receiver: Receiver, hanging: Receiver
) -> None:
    """The hanging endpoint's 20 deliveries are the oldest; it never answers within the timeout. The other
    merchant's 10 are all delivered while the hanging receiver still holds its requests, and it holds at
    most ``webhook_endpoint_concurrency`` of them (one shared pool of 16 used to be filled by it)."""
    hanging.delay = 8.0
    stuck, healthy = await new_merchant(engine), await new_merchant(engine)
    await register(engine, settings, stuck, hanging.url)
    await register(engine, settings, healthy, receiver.url)
    await pay(client, stuck, 20)
    await pay(client, healthy, 10)
    tuned = settings.model_copy(update={"webhook_timeout_seconds": 6, "webhook_endpoint_concurrency": 4})
    dispatcher = Dispatcher(runtime_of(tuned, engine))
    running = asyncio.create_task(dispatcher.run_forever())
    try:
        assert await wait_until(lambda: len(receiver.received) == 10, 4.0), len(receiver.received)
        assert hanging.received == []  # none answered yet: the healthy ones did not wait for them
        assert 1 <= hanging.arrived <= 4
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_an_endpoint_at_its_cap_is_passed_over_by_claims(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    first, second = await new_merchant(engine), await new_merchant(engine)
    busy_id = await register(engine, settings, first, "http://127.0.0.1:9/a")
    other_id = await register(engine, settings, second, "http://127.0.0.1:9/b")
    await pay(client, first, 6)
    await pay(client, second, 2)
    until = utcnow() + timedelta(seconds=60)
    mine = {busy_id, other_id}  # the database is shared with other tests: look at these endpoints only
    claimed = await claim_deliveries(uow(engine), until, 1000, per_endpoint=3, busy={busy_id: 1})
    taken = [c.endpoint_id for c in claimed if c.endpoint_id in mine]
    assert taken.count(busy_id) == 2 and taken.count(other_id) == 2
    again = await claim_deliveries(uow(engine), until, 1000, per_endpoint=3, busy={busy_id: 3, other_id: 2})
    assert [c for c in again if c.endpoint_id in mine] == []  # the busy one is full; the other has no more
    assert sorted(await statuses(engine, busy_id)) == ["pending"] * 6  # unclaimed ones stay as they were


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


# DNS rebinding: the address checked is the address connected to


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A stub resolver answering from a table, and a stub policy under which only 127.0.0.1 is "public", so
    that a check that passes still connects to loopback and a refused address is loopback too."""
    table: dict[str, list[str]] = {}
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return table[host]

    monkeypatch.setattr(targets, "resolve", resolve)
    monkeypatch.setattr(targets, "is_public_address", lambda address: address == "127.0.0.1")
    table["asked"] = asked
    return table


async def test_the_connection_goes_to_the_address_that_was_checked(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    fast: Settings,
    receiver: Receiver,
    resolver: dict[str, list[str]],
) -> None:
    """``hook.test`` exists only in the stub resolver: an HTTP client that looked the name up again would not
    reach the receiver; the request arrives with the URL's own Host."""
    live = await new_merchant(engine, live=True)
    hook = httpx.URL(receiver.url).copy_with(host="hook.test")  # the receiver, by a name only the stub knows
    endpoint_id = await register(engine, settings, live, str(hook), live=True)
    resolver["hook.test"] = ["127.0.0.1"]
    await pay(client, live)
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        await dispatcher.run_once()
    finally:
        await dispatcher.close()
    assert [t.status_code for t in await tries(engine, endpoint_id)] == [200]
    [(headers, _)] = receiver.received
    assert headers["host"] == f"hook.test:{hook.port}"
    assert resolver["asked"] == ["hook.test"]  # resolved once, by the check


async def test_a_name_with_any_private_address_is_refused_without_a_send(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    fast: Settings,
    receiver: Receiver,
    resolver: dict[str, list[str]],
) -> None:
    live = await new_merchant(engine, live=True)
    hook = httpx.URL(receiver.url).copy_with(host="hook.test")
    endpoint_id = await register(engine, settings, live, str(hook), live=True)
    resolver["hook.test"] = ["127.0.0.1", "127.0.0.3"]  # the second is "private" under the stub policy
    await pay(client, live)
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        await dispatcher.run_once()
    finally:
        await dispatcher.close()
    assert receiver.arrived == 0
    [attempt] = await tries(engine, endpoint_id)
    assert attempt.status_code is None and "non-public address" in attempt.error
