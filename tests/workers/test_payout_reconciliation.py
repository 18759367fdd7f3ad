"""Payouts on real databases, below the API: one outcome ends a payout (under concurrency too), a lost
notification or a crash before the hand-over is repaired by reconciliation, and no two workers send or ask
about the same payout."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.base import PayoutOutcome, PayoutRequest
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.apps import Scope
from cauri.domain.clock import utcnow
from cauri.domain.payout_request import validate_payout_request
from cauri.domain.payouts import PayoutStatus
from cauri.services import payouts as service
from cauri.services.idempotency import StoredResponse
from cauri.store.payouts import new_payout_row
from cauri.store.tables import events, payouts
from tests.api.test_payouts import payout_body
from tests.conftest import MerchantApp, uow

#: Loopback's discard port: nothing listens, so the sandbox's notification is lost as a provider's can be.
NOWHERE = "http://127.0.0.1:9"


class RecordingSandbox(SandboxConnector):
    """The sandbox provider, recording what it is handed and asked (the edge these tests watch)."""

    def __init__(self) -> None:
        super().__init__(b"secret", 0)
        self.sent: list[str] = []
        self.asked: list[str] = []

    async def payout(self, request: PayoutRequest, callback_url: str) -> str:
        self.sent.append(request.payout_id)
        return await super().payout(request, callback_url)

    async def fetch_payout_status(self, payout: Mapping[Any, Any]) -> PayoutOutcome:
        self.asked.append(payout["id"])
        await asyncio.sleep(0.05)  # providers are slow to answer: overlapping workers would both ask
        return await super().fetch_payout_status(payout)


def render(payout_id: str) -> StoredResponse:
    return StoredResponse(201, payout_id.encode())


async def initialize(engine: AsyncEngine, merchant: MerchantApp, connectors: ConnectorRegistry, msisdn: str) -> str:
    request = validate_payout_request(payout_body(recipient={"msisdn": msisdn}), sandbox=True)
    stored = await service.initialize_payout(
        uow(engine), connectors, Scope(merchant.id, "sandbox"), request, render, None, NOWHERE
    )
    await asyncio.sleep(0.05)  # the sandbox's (lost) notification
    return stored.body.decode()


async def state(engine: AsyncEngine, payout_id: str) -> tuple[str, list[str]]:
    async with engine.connect() as conn:
        status = (await conn.execute(select(payouts.c.status).where(payouts.c.id == payout_id))).scalar_one()
        kinds = (await conn.execute(select(events.c.type).where(events.c.payout_id == payout_id))).scalars()
        return str(status), sorted(kinds)


async def reconcile(engine: AsyncEngine, connectors: ConnectorRegistry) -> int:
    return await service.reconcile_payouts(
        uow(engine), connectors, older_than=timedelta(0), lease=timedelta(minutes=5), callback_base=NOWHERE
    )


async def test_a_lost_notification_is_repaired_by_asking_the_provider(
    engine: AsyncEngine, merchant: MerchantApp
) -> None:
    sandbox = RecordingSandbox()
    connectors = ConnectorRegistry(sandbox)
    paid = await initialize(engine, merchant, connectors, "4149518161")
    refused = await initialize(engine, merchant, connectors, "22951345020")
    waiting = await initialize(engine, merchant, connectors, "4149518163")
    assert sandbox.sent == [paid, refused, waiting]
    assert await state(engine, paid) == ("pending", ["payout.initiated"])

    # (Reconciliation covers every open payout of the database: other tests' too, so only ours are checked.)
    # Each run takes a batch, oldest first, and other tests' open payouts may come before ours.
    assert await reconcile(engine, connectors) >= 2
    for _ in range(20):
        if {paid, refused, waiting} <= set(sandbox.asked) or not await reconcile(engine, connectors):
            break
    assert {paid, refused, waiting} <= set(sandbox.asked)
    assert await state(engine, paid) == ("success", ["payout.initiated", "payout.success"])
    assert await state(engine, refused) == ("failed", ["payout.failed", "payout.initiated"])
    assert await state(engine, waiting) == ("pending", ["payout.initiated"])  # the provider says: still pending
    async with engine.connect() as conn:
        failed = (await conn.execute(select(payouts).where(payouts.c.id == refused))).one()
    assert failed.failure_message == "This is a failed test payout, you do not use valid test phone number."
    assert failed.failed_at is not None and failed.success_at is None

    # The pending one is leased: asked again only once the lease has passed.
    await reconcile(engine, connectors)
    assert sandbox.asked.count(waiting) == 1


async def test_a_payout_never_handed_over_is_sent_once(engine: AsyncEngine, merchant: MerchantApp) -> None:
    sandbox = RecordingSandbox()
    connectors = ConnectorRegistry(sandbox)
    request = validate_payout_request(payout_body(recipient={"msisdn": "4149518161"}), sandbox=True)
    row = new_payout_row(request, Scope(merchant.id, "sandbox"), "sandbox", utcnow())
    async with uow(engine) as tx:  # what initialize commits before a crash stops it handing the payout over
        await tx.payouts.add(row)
        await tx.commit()
    await asyncio.gather(reconcile(engine, connectors), reconcile(engine, connectors))
    assert sandbox.sent.count(row["id"]) == 1 and row["id"] not in sandbox.asked
    assert (await state(engine, row["id"]))[0] == "pending"
    await reconcile(engine, connectors)  # its notification was lost too: the provider is asked
    assert row["id"] in sandbox.asked
    assert await state(engine, row["id"]) == ("success", ["payout.initiated", "payout.success"])


async def test_one_outcome_ends_a_payout_however_many_arrive(engine: AsyncEngine, merchant: MerchantApp) -> None:
    connectors = ConnectorRegistry(RecordingSandbox())
    payout_id = await initialize(engine, merchant, connectors, "4149518163")
    outcomes = [
        PayoutOutcome(payout_id, PayoutStatus.SUCCESS),
        PayoutOutcome(payout_id, PayoutStatus.FAILED, "payout_failed", "declined"),
    ] * 3
    applied = await asyncio.gather(*(service.apply_payout_outcome(uow(engine), "sandbox", o) for o in outcomes))
    assert sum(applied) == 1
    status, kinds = await state(engine, payout_id)
    assert status in ("success", "failed") and kinds == sorted(["payout.initiated", f"payout.{status}"])


async def test_only_the_payouts_connector_may_end_it(engine: AsyncEngine, merchant: MerchantApp) -> None:
    connectors = ConnectorRegistry(RecordingSandbox())
    payout_id = await initialize(engine, merchant, connectors, "4149518163")
    assert not await service.apply_payout_outcome(uow(engine), "mtn", PayoutOutcome(payout_id, PayoutStatus.SUCCESS))
    assert not await service.apply_payout_outcome(
        uow(engine), "sandbox", PayoutOutcome(payout_id, PayoutStatus.PENDING)
    )
    assert await state(engine, payout_id) == ("pending", ["payout.initiated"])
