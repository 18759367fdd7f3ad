"""Unauthenticated routes read a bounded body: a provider's notification and the checkout's forms stop reading
just past their limit, however much the client sends (a 300 MB post used to be read whole)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.settings import Settings
from tests.conftest import MerchantApp, payment_body

CHUNK = b"x" * 1024


class Endless:
    """A request body of ``kilobytes`` KB, counting how much of it the server pulled."""

    def __init__(self, kilobytes: int) -> None:
        self.kilobytes = kilobytes
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.kilobytes):
            self.sent += 1
            yield CHUNK


async def test_a_huge_notification_is_refused_unread(client: httpx.AsyncClient) -> None:
    body = Endless(10_000)  # 10 MB
    response = await client.post("/connectors/sandbox/callback", content=body)
    assert response.status_code == 413
    assert body.sent <= 64 + 2  # the 64 KB limit, and a chunk or two of slack


async def test_a_huge_checkout_form_is_not_read_and_changes_nothing(
    client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    created = await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
    payment_id = created.json()["data"]["id"]
    body = Endless(10_000)
    response = await client.post(
        f"/checkout/{payment_id}/pay", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 403  # no form, so no CSRF token: the expired-form page
    assert body.sent <= 8 + 2
    verify = await client.get(f"/v1/payments/{payment_id}/verify", headers=merchant.headers)
    assert verify.json()["data"]["status"] == "initiated"


class Trickle(Endless):
    """A body that arrives a kilobyte at a time, slowly."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.kilobytes):
            self.sent += 1
            await asyncio.sleep(0.1)
            yield CHUNK


async def test_a_slow_body_is_cut_off(settings: Settings, engine: AsyncEngine, merchant: MerchantApp) -> None:
    app = create_app(settings.model_copy(update={"body_timeout_seconds": 0.5}), engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cauri.test") as client:
        started = time.monotonic()
        body = Trickle(50)  # 5 s at this pace
        response = await client.post("/v1/payments/initialize", content=body, headers=merchant.headers)
        assert response.status_code == 408, response.text
        assert time.monotonic() - started < 2
        assert body.sent < 10
        callback = await client.post("/connectors/sandbox/callback", content=Trickle(50))
        assert callback.status_code == 408
