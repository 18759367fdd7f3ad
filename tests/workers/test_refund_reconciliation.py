"""Refunds on real databases, below the API: a lost notification and a crash before the hand-over are repaired
by reconciliation, and a provider that cannot be reached fails the refund, whose amount can be refunded again."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.base import Connector, ProviderUnavailable, RefundRequest
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.apps import Scope
from cauri.domain.refunds import RefundRequest as Asked
from cauri.services import refunds as service
from cauri.services.idempotency import StoredResponse
from cauri.store.tables import events, refunds
from tests.api.test_refunds import paid_payment
from tests.conftest import MerchantApp, uow
from tests.workers.test_payout_reconciliation import NOWHERE


class Unreachable(SandboxConnector):
    async def refund(self, request: RefundRequest, callback_url: str) -> str:
        raise ProviderUnavailable


class NoRefunds(SandboxConnector):
    """Takes payments but cannot refund: the base connector's refund, as a connector that has none leaves it."""

    async def refund(self, request: RefundRequest, callback_url: str) -> str:
        return await Connector.refund(self, request, callback_url)


class Crashing(SandboxConnector):
    """Takes the refund, then fails in a way that says nothing of whether the provider got it."""

    async def refund(self, request: RefundRequest, callback_url: str) -> str:
        await super().refund(request, callback_url)
        raise RuntimeError("connection reset after sending")


async def refund(engine: AsyncEngine, merchant: MerchantApp, connectors: ConnectorRegistry, payment_id: str) -> str:
    stored = await service.refund_payment(
        uow(engine), connectors, Scope(merchant.id, "sandbox"), payment_id, Asked(amount=None, reason=None),
        lambda r: StoredResponse(201, r["id"].encode()), None, NOWHERE,
    )  # fmt: skip
    return stored.body.decode()


async def state(engine: AsyncEngine, refund_id: str, payment_id: str) -> tuple[str, list[str]]:
    async with engine.connect() as conn:
        status = (await conn.execute(select(refunds.c.status).where(refunds.c.id == refund_id))).scalar_one()
        kinds = (await conn.execute(select(events.c.type).where(events.c.payment_id == payment_id))).scalars()
        return str(status), sorted(k for k in kinds if k in ("payment.refunded", "refund.failed"))


async def reconcile(engine: AsyncEngine, connectors: ConnectorRegistry) -> int:
    return await service.reconcile_refunds(
        uow(engine), connectors, older_than=timedelta(0), lease=timedelta(minutes=5), callback_base=NOWHERE
    )


async def test_lost_notifications_and_crashes_are_repaired_and_an_unreachable_provider_fails_the_refund(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    # The sandbox notifies nowhere (lost); customer phone None: the refund's outcome is success.
    lost_payment = await paid_payment(client, engine, merchant, phone=None)
    lost = await refund(engine, merchant, ConnectorRegistry(Crashing(b"secret", 0)), lost_payment)
    assert await state(engine, lost, lost_payment) == ("pending", [])  # left for reconciliation, not failed

    # A process that died between recording the refund and handing it over leaves it initiated.
    died_payment = await paid_payment(client, engine, merchant, phone="4149518162")
    died = await refund(engine, merchant, ConnectorRegistry(Crashing(b"secret", 0)), died_payment)
    async with engine.begin() as conn:
        await conn.execute(update(refunds).where(refunds.c.id == died).values(status="initiated"))

    assert await reconcile(engine, ConnectorRegistry(SandboxConnector(b"secret", 0))) >= 2
    assert await state(engine, lost, lost_payment) == ("success", ["payment.refunded"])
    assert (await state(engine, died, died_payment))[0] == "pending"  # sent now; its outcome comes by asking
    assert await reconcile(engine, ConnectorRegistry(SandboxConnector(b"secret", 0))) >= 1
    assert await state(engine, died, died_payment) == ("failed", ["refund.failed"])

    unreachable_payment = await paid_payment(client, engine, merchant, phone=None)
    failed = await refund(engine, merchant, ConnectorRegistry(Unreachable(b"secret", 0)), unreachable_payment)
    assert await state(engine, failed, unreachable_payment) == ("failed", ["refund.failed"])
    shown = (await client.get(f"/v1/payments/{unreachable_payment}", headers=merchant.headers)).json()["data"]
    assert shown["amount_refundable"] == 100
    assert shown["refunds"][0]["failure_message"] == "The refund provider could not be reached."


async def test_a_provider_that_does_not_refund_fails_the_refund_and_gives_its_amount_back(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    # Nothing can have been sent: left pending, the refund would hold its amount for good, and every
    # reconciliation would ask a provider that cannot answer.
    payment_id = await paid_payment(client, engine, merchant, phone=None)
    failed = await refund(engine, merchant, ConnectorRegistry(NoRefunds(b"secret", 0)), payment_id)
    assert await state(engine, failed, payment_id) == ("failed", ["refund.failed"])
    shown = (await client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)).json()["data"]
    assert shown["amount_refundable"] == 100
    assert shown["refunds"][0]["failure_message"] == "The provider that took this payment does not refund."
    [balance] = (await client.get("/v1/balances", headers=merchant.headers)).json()["data"]
    assert balance["refunded"] == 0 and balance["available"] == balance["collected"]
