"""The background jobs on real databases: reconciliation claims attempts with a lease, expiry is one statement
over every app's own delay, and a slow SMTP server never holds webhooks back."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.base import Outcome
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.attempts import AttemptStatus
from cauri.domain.clock import utcnow
from cauri.services import checkout
from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.tables import apps, emails, events, payments
from cauri.workers.jobs import background_tasks
from tests.checkout.test_attempts import new_attempt, new_payment, status_of
from tests.conftest import MerchantApp, new_merchant, runtime_of, uow
from tests.outbox.conftest import Receiver


class CountingConnector(SandboxConnector):
    """The sandbox, counting how often it is asked about each attempt (and slow to answer, as providers are)."""

    def __init__(self) -> None:
        super().__init__(b"secret", 0)
        self.asked: list[str] = []

    async def fetch_status(self, attempt: Mapping[Any, Any]) -> Outcome:
        self.asked.append(attempt["id"])
        await asyncio.sleep(0.2)
        return Outcome(attempt["id"], AttemptStatus.PENDING)


async def test_no_two_workers_ask_a_provider_about_the_same_attempt(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    stuck = [await new_payment(client, merchant) for _ in range(4)]
    for payment_id in stuck:
        await new_attempt(engine, payment_id, phone="4149518163", age=600)
    connector = CountingConnector()
    registry = ConnectorRegistry(connector)
    engines = [create_engine(settings) for _ in range(3)]  # separate pools: really concurrent on PostgreSQL
    try:
        await asyncio.gather(
            *(checkout.reconcile(uow(e), registry, older_than=timedelta(seconds=120), lease=timedelta(minutes=5))
              for e in engines)
        )  # fmt: skip
    finally:
        for e in engines:
            await e.dispose()
    mine = [a for a in connector.asked if a[4:].startswith(tuple(p[3:] for p in stuck))]
    assert len(mine) == len(set(mine)) == 4, connector.asked
    # Still leased: the next round does not ask again before the lease ends.
    connector.asked.clear()
    await checkout.reconcile(uow(engine), registry, older_than=timedelta(seconds=120), lease=timedelta(minutes=5))
    assert not [a for a in connector.asked if a in mine]


async def test_expiry_follows_each_apps_delay_in_one_statement(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    patient, hasty = await new_merchant(engine), await new_merchant(engine)
    async with engine.begin() as conn:
        await conn.execute(update(apps).where(apps.c.id == patient.id).values(expiry_minutes=60))
        await conn.execute(update(apps).where(apps.c.id == hasty.id).values(expiry_minutes=5))
    kept, expired = await new_payment(client, patient), await new_payment(client, hasty)
    paying = await new_payment(client, hasty)
    await new_attempt(engine, paying, phone="4149518163")
    async with engine.begin() as conn:
        twenty_minutes_ago = utcnow() - timedelta(minutes=20)
        await conn.execute(
            update(payments).where(payments.c.id.in_([kept, expired, paying])).values(initiated_at=twenty_minutes_ago)
        )
    assert await checkout.expire_payments(uow(engine)) >= 2
    assert await status_of(engine, kept) == "initiated"
    assert await status_of(engine, expired) == "cancelled"
    assert await status_of(engine, paying) == "cancelled"
    async with uow(engine).reading() as tx:
        attempt = await tx.attempts.latest(paying)
    assert attempt is not None and attempt.status == "failed" and attempt.failure_message == "Expired."
    assert await checkout.expire_payments(uow(engine)) == 0  # nothing twice


async def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Poll ``condition`` (the receiver records from its own thread) until it holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture
def silent_smtp() -> Iterator[int]:
    """An SMTP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


async def test_a_silent_smtp_server_does_not_hold_webhooks_back(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, receiver: Receiver, silent_smtp: int
) -> None:
    from tests.outbox.test_webhooks import add_endpoint

    merchant = await new_merchant(engine)
    await add_endpoint(client, merchant, receiver.url)
    payment_id = await new_payment(client, merchant)
    attempt_id = await new_attempt(engine, payment_id)
    assert await checkout.apply_outcome(uow(engine), "sandbox", Outcome(attempt_id, AttemptStatus.SUCCESS))
    stalled = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": silent_smtp, "smtp_security": "none",
                "webhook_timeout_seconds": 30, "dispatcher_poll_seconds": 0.05}
    )  # fmt: skip
    tasks = [asyncio.create_task(job()) for job in background_tasks(runtime_of(stalled, engine), dispatch=True)]
    try:
        await wait_for(lambda: len(receiver.received) == 2)  # initiated, success; the receipt is now stuck
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await new_payment(client, merchant)  # a new event, while the mailer waits on the silent server
        await wait_for(lambda: len(receiver.received) == 3)
        elapsed = time.monotonic() - started
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert elapsed < 5, elapsed  # the mail's timeout is 30 s: the webhook did not wait for it
    async with engine.connect() as conn:
        owed = select(events.c.id).where(events.c.payment_id == payment_id)
        statuses = (await conn.execute(select(emails.c.status).where(emails.c.event_id.in_(owed)))).scalars().all()
    assert statuses and "sent" not in statuses  # the receipt is still waiting
