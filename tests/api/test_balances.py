"""The ledger on each database: balances that add up (available = collected - refunded - paid_out, every
change's entries summing to zero), refunds and payouts refused beyond what is available when there is no
credit (as live), failures giving the money back, concurrent payouts of which only those that fit pass, and
the sandbox's credit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.connectors.base import PayoutOutcome, RefundOutcome
from cauri.domain.payouts import PayoutStatus
from cauri.domain.refunds import RefundStatus
from cauri.services.payouts import apply_payout_outcome
from cauri.services.refunds import apply_refund_outcome
from cauri.settings import Settings
from cauri.store.tables import ledger_entries
from tests.api.test_payouts import payout_body
from tests.api.test_refunds import paid_payment
from tests.conftest import MerchantApp, new_merchant, uow

PENDING_PAYOUT = {"msisdn": "4149518163"}  # the sandbox never answers: the payout stays pending


@pytest.fixture
async def strict(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The API with no sandbox credit: the sandbox spends only what it collected, as live apps do."""
    app = create_app(settings.model_copy(update={"sandbox_balance": 0}), engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cauri.test") as client:
        yield client


async def entries(engine: AsyncEngine, app_id: str) -> tuple[int, dict[str, int]]:
    """The sum of the app's entries, and each subject's."""
    c = ledger_entries.c
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.coalesce(func.sum(c.amount), 0)).where(c.app_id == app_id))).scalar()
        rows = await conn.execute(
            select(c.subject_id, func.sum(c.amount)).where(c.app_id == app_id).group_by(c.subject_id)
        )
        return int(total or 0), {r[0]: int(r[1]) for r in rows}


async def balances(client: httpx.AsyncClient, merchant: MerchantApp) -> list[dict[str, Any]]:
    answer = await client.get("/v1/balances", headers=merchant.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == "Balances fetched successfully"
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def balance(collected: int, refunded: int, paid_out: int) -> list[dict[str, Any]]:
    available = collected - refunded - paid_out
    return [{"currency": "XOF", "collected": collected, "refunded": refunded, "paid_out": paid_out,
             "available": available}]  # fmt: skip


async def test_refunds_and_payouts_spend_only_what_is_available_and_the_ledger_adds_up(
    strict: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    merchant = await new_merchant(engine)
    assert await balances(strict, merchant) == []
    payment_id = await paid_payment(strict, engine, merchant, amount=100)
    assert await balances(strict, merchant) == balance(100, 0, 0)

    def pay_out(amount: int) -> Any:
        body = payout_body(amount=amount, recipient=PENDING_PAYOUT)
        return strict.post("/v1/payouts/initialize", json=body, headers=merchant.headers)

    refused = await pay_out(150)
    assert refused.status_code == 422
    assert refused.json()["errors"] == {
        "amount": ["The amount field must not be greater than the available balance (100 XOF)."]
    }
    payout = await pay_out(80)
    assert payout.status_code == 201, payout.text
    refund_url = f"/v1/payments/{payment_id}/refund"
    too_much = await strict.post(refund_url, json={"amount": 30}, headers=merchant.headers)
    assert too_much.status_code == 422
    assert too_much.json()["errors"] == {
        "amount": ["The amount field must not be greater than the available balance (20 XOF)."]
    }
    refund = await strict.post(refund_url, json={"amount": 20}, headers=merchant.headers)
    assert refund.status_code == 201, refund.text
    assert await balances(strict, merchant) == balance(100, 20, 80)

    # Failures give the money back, once.
    refund_id, payout_id = refund.json()["data"]["id"], payout.json()["data"]["id"]
    for _ in range(2):
        await apply_refund_outcome(uow(engine), "sandbox", RefundOutcome(refund_id, RefundStatus.FAILED))
        await apply_payout_outcome(uow(engine), "sandbox", PayoutOutcome(payout_id, PayoutStatus.FAILED))
    assert await balances(strict, merchant) == balance(100, 0, 0)

    total, by_subject = await entries(engine, merchant.id)
    assert total == 0
    assert by_subject == {payment_id: 0, refund_id: 0, payout_id: 0}  # each change is balanced on its own
    async with engine.connect() as conn:
        kinds = await conn.execute(select(ledger_entries.c.kind).where(ledger_entries.c.app_id == merchant.id))
        assert sorted(set(kinds.scalars())) == ["payment.collected", "payout.released", "payout.reserved",
                                                "refund.released", "refund.reserved"]  # fmt: skip


async def test_concurrent_payouts_only_those_that_fit(strict: httpx.AsyncClient, engine: AsyncEngine) -> None:
    merchant = await new_merchant(engine)
    await paid_payment(strict, engine, merchant, amount=100)
    body = payout_body(amount=30, recipient=PENDING_PAYOUT)
    answers = await asyncio.gather(
        *(strict.post("/v1/payouts/initialize", json=body, headers=merchant.headers) for _ in range(6))
    )
    assert sorted(a.status_code for a in answers) == [201] * 3 + [422] * 3, [a.text for a in answers]
    assert await balances(strict, merchant) == balance(100, 0, 90)
    assert (await entries(engine, merchant.id))[0] == 0


async def test_the_sandbox_has_a_credit_and_balances_are_per_app_and_environment(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    created = await client.post("/v1/payouts/initialize", json=payout_body(recipient=PENDING_PAYOUT),
                                headers=merchant.headers)  # fmt: skip
    assert created.status_code == 201, created.text  # nothing collected yet: the credit covers it
    assert await balances(client, merchant) == balance(0, 0, 500)
    other = await new_merchant(engine)
    assert await balances(client, other) == []
    live = await new_merchant(engine, live=True)
    assert await balances(client, live) == []


async def test_a_payouts_retry_is_replayed_once_the_balance_is_spent(
    strict: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    merchant = await new_merchant(engine)
    await paid_payment(strict, engine, merchant, amount=100)
    headers = {**merchant.headers, "Idempotency-Key": "all-of-it"}
    body = payout_body(amount=100, recipient=PENDING_PAYOUT)
    first = await strict.post("/v1/payouts/initialize", json=body, headers=headers)
    retry = await strict.post("/v1/payouts/initialize", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true" and retry.json() == first.json()
    assert await balances(strict, merchant) == balance(100, 0, 100)
