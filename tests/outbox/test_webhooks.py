"""Webhooks end to end on each database: real HTTP receivers on loopback that check the signatures with
their own code, the retry schedule (compressed), leases, and several dispatchers at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.clock import as_utc, utcnow
from cauri.domain.webhooks import MAX_ATTEMPTS, RETRY_DELAYS, is_public_address, retry_delay
from cauri.services.webhooks import claim_deliveries
from cauri.settings import Settings
from cauri.store.tables import deliveries, delivery_attempts, webhook_endpoints
from cauri.workers.dispatcher import Dispatcher
from cauri.workers.mail import Mailer
from tests.conftest import MerchantApp, new_merchant, payment_body, runtime_of, uow
from tests.outbox.conftest import Receiver, check_signatures


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_retry_scale": 0.0002, "webhook_timeout_seconds": 5})


async def add_endpoint(client: httpx.AsyncClient, merchant: MerchantApp, url: str, **extra: object) -> dict[str, str]:
    response = await client.post("/v1/webhooks", json={"url": url, **extra}, headers=merchant.headers)
    assert response.status_code == 201, response.text
    data: dict[str, str] = response.json()["data"]
    return data


async def pay(client: httpx.AsyncClient, merchant: MerchantApp) -> str:
    response = await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
    payment_id: str = response.json()["data"]["id"]
    return payment_id


async def drain(dispatcher: Dispatcher, receiver: Receiver, until: float = 5.0) -> None:
    """Dispatch until nothing is pending for ``receiver``'s endpoints, or ``until`` seconds. Only theirs: the
    database is shared by the tests of a process, and others leave deliveries pending (it waited them out)."""
    theirs = select(webhook_endpoints.c.id).where(webhook_endpoints.c.url == receiver.url)
    waiting = select(deliveries.c.id).where(deliveries.c.status == "pending", deliveries.c.endpoint_id.in_(theirs))
    deadline = time.monotonic() + until
    while time.monotonic() < deadline:
        if not await dispatcher.run_once():
            await asyncio.sleep(0.02)
        async with dispatcher.runtime.engine.connect() as conn:
            if not (await conn.execute(waiting)).all():
                return


async def test_an_event_is_delivered_signed(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine, fast: Settings, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(client, merchant, receiver.url)
    assert endpoint["secret"].startswith("whsec_")
    payment_id = await pay(client, merchant)
    async with engine.connect() as conn:  # written with the payment, before any dispatcher ran
        rows = (await conn.execute(select(deliveries).where(deliveries.c.endpoint_id == endpoint["id"]))).all()
    assert [r.status for r in rows] == ["pending"]
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        await drain(dispatcher, receiver)
    finally:
        await dispatcher.close()
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    check_signatures(headers, body, endpoint["secret"])
    event = orjson.loads(body)
    assert event["event"] == "payment.initiated"
    assert event["data"]["id"] == payment_id
    assert event["data"]["status"] == "initiated"
    assert b"\\u" not in body and b"\\/" not in body  # serialised as JSON.stringify would


async def test_failures_and_redirects_are_retried_until_a_2xx(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine, fast: Settings, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(client, merchant, receiver.url)
    receiver.answers = [500, 302, 503]
    await pay(client, merchant)
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        await drain(dispatcher, receiver, until=10)
    finally:
        await dispatcher.close()
    assert len(receiver.received) == 4
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 1  # the same message, retried
    async with engine.connect() as conn:
        tries = (
            await conn.execute(
                select(
                    delivery_attempts.c.status_code,
                    delivery_attempts.c.response_excerpt,
                    delivery_attempts.c.attempted_at,
                )
                .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
                .where(deliveries.c.endpoint_id == endpoint["id"])
                .order_by(delivery_attempts.c.attempted_at)
            )
        ).all()
    assert [t.status_code for t in tries] == [500, 302, 503, 200]
    assert tries[-1].response_excerpt == "answer 200"
    # The schedule (compressed 5,000 times) is followed: each retry waits at least its delay, less jitter.
    for before, after, delay in zip(tries, tries[1:], RETRY_DELAYS, strict=False):
        waited = as_utc(after.attempted_at) - as_utc(before.attempted_at)
        assert waited >= delay * fast.webhook_retry_scale * 0.9, (waited, delay)


async def test_endpoints_receive_only_their_events(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(client, merchant, receiver.url, events=["payment.success"])
    await pay(client, merchant)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(deliveries).where(deliveries.c.endpoint_id == endpoint["id"]))).all()
    assert rows == []


async def test_a_dead_workers_claims_return_after_their_lease(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine, fast: Settings, receiver: Receiver
) -> None:
    await add_endpoint(client, merchant, receiver.url)
    await pay(client, merchant)
    claims = await claim_deliveries(uow(engine), utcnow() + timedelta(milliseconds=200), 100)
    assert claims  # claimed by a worker that then "dies" without sending
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        assert await dispatcher.run_once() == 0  # still leased
        await asyncio.sleep(0.3)
        await drain(dispatcher, receiver)
    finally:
        await dispatcher.close()
    assert len(receiver.received) == 1


async def test_several_dispatchers_never_send_a_delivery_twice(
    client: httpx.AsyncClient, engine: AsyncEngine, fast: Settings, receiver: Receiver
) -> None:
    merchant = await new_merchant(engine)
    await add_endpoint(client, merchant, receiver.url)
    for _ in range(30):
        await pay(client, merchant)
    dispatchers = [Dispatcher(runtime_of(fast.model_copy(update={"dispatcher_batch": 4}), engine)) for _ in range(3)]
    try:
        await asyncio.gather(*(drain(d, receiver, until=15) for d in dispatchers))
    finally:
        for d in dispatchers:
            await d.close()
    ids = [h["webhook-id"] for h, _ in receiver.received]
    assert len(ids) == 30
    assert len(set(ids)) == 30


async def test_live_webhooks_cannot_target_private_addresses(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    live = await new_merchant(engine, live=True)
    for url in ("http://127.0.0.1:9/x", "http://10.0.0.8/x", "http://169.254.169.254/latest", "http://[::1]/x",
                "http://localhost/x"):  # fmt: skip
        response = await client.post("/v1/webhooks", json={"url": url}, headers=live.headers)
        assert response.status_code == 422, url
        assert "url" in response.json()["errors"]
    sandbox = await new_merchant(engine)
    allowed = await client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=sandbox.headers)
    assert allowed.status_code == 201


def test_address_classification() -> None:
    assert is_public_address("8.8.8.8")
    for address in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fe80::1",
                    "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1"):  # fmt: skip  # noqa: S104
        assert not is_public_address(address), address


def test_retry_schedule_spans_about_three_days() -> None:
    total = sum(RETRY_DELAYS, timedelta())
    assert timedelta(days=2.5) < total < timedelta(days=3.5)
    first = retry_delay(1)
    assert first is not None and timedelta(seconds=4.5) <= first <= timedelta(seconds=5.5)
    assert retry_delay(MAX_ATTEMPTS) is None


async def test_deleted_endpoints_get_nothing_more(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(client, merchant, receiver.url)
    await pay(client, merchant)
    deleted = await client.delete(f"/v1/webhooks/{endpoint['id']}", headers=merchant.headers)
    assert deleted.status_code == 200
    listed = await client.get("/v1/webhooks", headers=merchant.headers)
    assert endpoint["id"] not in [e["id"] for e in listed.json()["data"]]
    async with engine.connect() as conn:
        statuses = (
            (await conn.execute(select(deliveries.c.status).where(deliveries.c.endpoint_id == endpoint["id"])))
            .scalars()
            .all()
        )
    assert statuses == ["failed"]
    again = await client.delete(f"/v1/webhooks/{endpoint['id']}", headers=merchant.headers)
    assert again.status_code == 404


async def test_events_can_be_listed_inspected_and_resent(
    client: httpx.AsyncClient, engine: AsyncEngine, fast: Settings, receiver: Receiver
) -> None:
    merchant = await new_merchant(engine)
    endpoint = await add_endpoint(client, merchant, receiver.url)
    payment_id = await pay(client, merchant)
    dispatcher = Dispatcher(runtime_of(fast, engine))
    try:
        await drain(dispatcher, receiver)
        listed = (await client.get("/v1/events", headers=merchant.headers)).json()["data"]
        assert [(e["type"], e["payment_id"]) for e in listed] == [("payment.initiated", payment_id)]
        [delivery] = listed[0]["deliveries"]
        assert delivery["status"] == "delivered" and delivery["endpoint_id"] == endpoint["id"]
        detail = (await client.get(f"/v1/deliveries/{delivery['id']}", headers=merchant.headers)).json()["data"]
        assert [t["status_code"] for t in detail["tries"]] == [200]
        assert detail["tries"][0]["response_excerpt"] == "answer 200"

        resent = await client.post(f"/v1/events/{listed[0]['id']}/resend", headers=merchant.headers)
        assert resent.status_code == 200 and resent.json()["data"]["deliveries"] == 1
        await drain(dispatcher, receiver)
    finally:
        await dispatcher.close()
    assert [h["webhook-id"] for h, _ in receiver.received] == [listed[0]["id"]] * 2  # same id: receivers dedupe
    other = await new_merchant(engine)
    assert (await client.post(f"/v1/events/{listed[0]['id']}/resend", headers=other.headers)).status_code == 404
    assert (await client.get(f"/v1/deliveries/{delivery['id']}", headers=other.headers)).status_code == 404


async def test_an_endpoint_failing_for_days_is_disabled_and_the_merchant_told(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, receiver: Receiver
) -> None:
    from cauri.services.apps import configure_emails
    from cauri.store.tables import emails

    merchant = await new_merchant(engine)
    await configure_emails(uow(engine), merchant.id, notify_email="ops@merchant.example")
    endpoint = await add_endpoint(client, merchant, receiver.url)
    receiver.answers = [500] * 50
    await pay(client, merchant)
    # The ~3-day schedule, compressed 100,000 times.
    dispatcher = Dispatcher(runtime_of(settings.model_copy(update={"webhook_retry_scale": 0.00001}), engine))
    try:
        await drain(dispatcher, receiver, until=20)
        await Mailer(dispatcher.runtime).run_once()  # sends the notice queued by the last failure
    finally:
        await dispatcher.close()
    assert len(receiver.received) == MAX_ATTEMPTS
    async with engine.connect() as conn:
        enabled = (
            await conn.execute(select(webhook_endpoints.c.is_enabled).where(webhook_endpoints.c.id == endpoint["id"]))
        ).scalar_one()
        notices = (
            await conn.execute(
                select(emails.c.status).where(emails.c.kind == "endpoint_disabled",
                                              emails.c.to_address == "ops@merchant.example")
            )
        ).scalars().all()  # fmt: skip
    assert enabled is False
    assert notices == ["sent"]
    mails = list((Path(settings.data_dir) / "mail").glob("*.eml"))
    assert any(b"webhook" in m.read_bytes() for m in mails)


async def test_live_deliveries_are_checked_again_when_sent(
    client: httpx.AsyncClient, engine: AsyncEngine, fast: Settings, receiver: Receiver
) -> None:
    """Registered while private targets were allowed (or a public name that now resolves to 127.0.0.1): the
    dispatcher resolves the host before each send and refuses a non-public address."""
    from cauri.api.context import Gateway

    live = await new_merchant(engine, live=True)
    gateway: Gateway = client._transport.app.state.gateway  # type: ignore[attr-defined]
    gateway.runtime.settings = gateway.settings.model_copy(update={"webhooks_allow_private": True})
    await add_endpoint(client, live, receiver.url)
    await pay(client, live)
    dispatcher = Dispatcher(runtime_of(fast, engine))  # webhooks_allow_private is off here
    try:
        assert await dispatcher.run_once() >= 1
    finally:
        await dispatcher.close()
    assert receiver.received == []
    async with engine.connect() as conn:
        errors = (await conn.execute(select(delivery_attempts.c.error))).scalars().all()
    assert any(e and "non-public address" in e for e in errors)


async def test_a_slow_endpoint_does_not_hold_up_the_others(
    client: httpx.AsyncClient, engine: AsyncEngine, fast: Settings, receiver: Receiver, slow_receiver: Receiver
) -> None:
    slow_receiver.delay = 3.0
    sluggish, brisk = await new_merchant(engine), await new_merchant(engine)
    await add_endpoint(client, sluggish, slow_receiver.url)
    await add_endpoint(client, brisk, receiver.url)
    await pay(client, sluggish)
    dispatcher = Dispatcher(runtime_of(fast, engine))
    running = asyncio.create_task(dispatcher.run_forever())
    try:
        await asyncio.sleep(0.5)  # the slow delivery is in flight now
        for _ in range(5):
            await pay(client, brisk)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and len(receiver.received) < 5:  # noqa: ASYNC110 - polling a thread
            await asyncio.sleep(0.05)
        assert len(receiver.received) == 5  # delivered while the slow endpoint still holds its one slot
        assert slow_receiver.received == []
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await dispatcher.close()
