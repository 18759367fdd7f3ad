"""Payouts end to end on each database: a real server pays out through the sandbox (its signed notification to
the server's own callback route), its dispatcher delivers every payout event, signed, to a real receiver on
loopback, and a payout that stays pending is left to reconciliation, which asks the connector."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.connectors.base import PayoutOutcome
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.services.payouts import reconcile_payouts
from cauri.settings import Settings
from cauri.store.tables import payouts
from tests.api.test_payouts import payout_body
from tests.conftest import MerchantApp, serving, uow
from tests.outbox.conftest import Receiver, check_signatures

INVALID = "This is a failed test payout, you do not use valid test phone number."


@pytest.fixture
def gateway(settings: Settings) -> Iterator[str]:
    """A real server that reaches itself (the sandbox notifies ``internal_url``) and runs its dispatcher."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    update = {"public_url": f"http://127.0.0.1:{port}", "port": port, "sandbox_delay_seconds": 0.0,
              "log_level": "warning", "webhook_retry_scale": 0.0002}  # fmt: skip
    with serving(create_app(settings.model_copy(update=update)), port) as url:
        yield url


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


class AskedSandbox(SandboxConnector):
    def __init__(self) -> None:
        super().__init__(b"secret", 0)
        self.asked: list[str] = []

    async def fetch_payout_status(self, payout: Mapping[Any, Any]) -> PayoutOutcome:
        self.asked.append(payout["id"])
        return await super().fetch_payout_status(payout)


async def test_payouts_reach_each_final_state_and_every_event_is_delivered_signed(
    gateway: str, merchant: MerchantApp, receiver: Receiver, engine: AsyncEngine
) -> None:
    api = httpx.AsyncClient(base_url=gateway, headers=merchant.headers)
    endpoint = (await api.post("/v1/webhooks", json={"url": receiver.url})).json()["data"]

    async def pay_out(msisdn: str) -> str:
        created = await api.post("/v1/payouts/initialize", json=payout_body(recipient={"msisdn": msisdn}))
        assert created.status_code == 201, created.text
        payout_id: str = created.json()["data"]["id"]
        return payout_id

    async def status(payout_id: str) -> str:
        value: str = (await api.get(f"/v1/payouts/{payout_id}/verify")).json()["data"]["status"]
        return value

    async def ended() -> bool:
        return [await status(p) for p in (paid, declined, invalid)] == ["success", "failed", "failed"]

    paid, declined, invalid, waiting = [
        await pay_out(n) for n in ("2294149518161", "4149518162", "22951345020", "4149518163")
    ]
    await wait_for(ended, "the payouts' outcomes")

    success = (await api.get(f"/v1/payouts/{paid}")).json()["data"]
    assert success["success_at"] and success["pending_at"] and success["failed_at"] is None
    assert success["disburse"]["gateway"]["transaction_status"] == "success"
    rejected = (await api.get(f"/v1/payouts/{invalid}")).json()["data"]
    assert rejected["disburse"]["failure_message"] == INVALID
    assert rejected["disburse"]["failure_error_type"] == "payout_failed" and rejected["failed_at"]

    expected = {
        *{(p, "payout.initiated") for p in (paid, declined, invalid, waiting)},
        (paid, "payout.success"),
        (declined, "payout.failed"),
        (invalid, "payout.failed"),
    }

    def received() -> set[tuple[str, str]]:
        return {(orjson.loads(b)["data"]["id"], orjson.loads(b)["event"]) for _, b in receiver.received}

    async def all_received() -> bool:
        return received() >= expected

    await wait_for(all_received, "every payout event's webhook")
    assert received() == expected  # the pending payout emits nothing more
    for headers, body in receiver.received:
        check_signatures(headers, body, endpoint["secret"])
        event = orjson.loads(body)
        if event["event"] != "payout.initiated":
            assert event["data"]["status"] == event["event"].removeprefix("payout.")
    events = (await api.get("/v1/events", params={"limit": 20})).json()["data"]
    assert {(e["payout_id"], e["type"]) for e in events} == expected
    assert all(e["payment_id"] is None for e in events)

    # The payout that stays pending: reconciliation asks its connector, which says it still is.
    assert await status(waiting) == "pending"
    # The database is the session's, with earlier tests' open payouts in it: this one is made the oldest open
    # one, and one pass claims the oldest alone (after the hostile-input tests, it was not among the first
    # hundred). The ended ones are made older still: were they claimable, one of them would be taken instead.
    async with engine.begin() as conn:
        for ids, moment in (
            ([waiting], datetime(2000, 1, 1, tzinfo=UTC)),
            ([paid, declined, invalid], datetime(1999, 1, 1, tzinfo=UTC)),
        ):
            await conn.execute(update(payouts).where(payouts.c.id.in_(ids)).values(updated_at=moment))
    sandbox = AskedSandbox()
    await reconcile_payouts(
        uow(engine), ConnectorRegistry(sandbox), older_than=timedelta(0), lease=timedelta(minutes=5),
        callback_base=gateway, limit=1,
    )  # fmt: skip
    assert sandbox.asked == [waiting]  # ended payouts are never asked about
    assert await status(waiting) == "pending"
    await api.aclose()


def test_forged_or_foreign_payout_notifications_change_nothing(gateway: str, merchant: MerchantApp) -> None:
    api = httpx.Client(base_url=gateway, headers=merchant.headers)
    payout_id = api.post("/v1/payouts/initialize", json=payout_body(recipient={"msisdn": "4149518163"}))
    waiting = payout_id.json()["data"]["id"]
    forged = orjson.dumps({"kind": "payout", "payout_id": waiting, "status": "success"})
    answer = httpx.post(f"{gateway}/connectors/sandbox/payouts/callback", content=forged,
                        headers={"x-sandbox-signature": "0" * 64})  # fmt: skip
    assert answer.status_code == 400
    assert httpx.post(f"{gateway}/connectors/nobody/payouts/callback", content=forged).status_code == 404
    assert api.get(f"/v1/payouts/{waiting}").json()["data"]["status"] == "pending"
