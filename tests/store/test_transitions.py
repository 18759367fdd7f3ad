"""The guarded transition on real databases: events commit with their change, and two concurrent moves
cannot both win."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.apps import Scope
from cauri.domain.clock import utcnow
from cauri.domain.payment_request import validate_payment_request
from cauri.domain.payments import PaymentStatus, TransitionRefused
from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.payments import insert_payment, new_payment_row
from cauri.store.tables import events, payments
from tests.conftest import MerchantApp, payment_body, uow


async def new_payment(engine: AsyncEngine, merchant: MerchantApp) -> tuple[str, Scope]:
    scope = Scope(merchant.id, "sandbox")
    row = new_payment_row(validate_payment_request(payment_body()), scope, utcnow())
    async with engine.begin() as conn:
        await insert_payment(conn, row, {"id": row["id"]}, utcnow())
    return row["id"], scope


async def event_types(engine: AsyncEngine, payment_id: str) -> list[str]:
    async with engine.connect() as conn:
        query = select(events.c.type).where(events.c.payment_id == payment_id).order_by(events.c.created_at)
        return list((await conn.execute(query)).scalars())


async def test_each_move_writes_its_event(engine: AsyncEngine, merchant: MerchantApp) -> None:
    payment_id, scope = await new_payment(engine, merchant)
    async with uow(engine) as tx:
        await tx.payments.move(payment_id, scope, PaymentStatus.PENDING)
        row = await tx.payments.move(payment_id, scope, PaymentStatus.SUCCESS)
        await tx.commit()
    assert row.status == "success"
    assert await event_types(engine, payment_id) == ["payment.initiated", "payment.success"]


async def test_a_rolled_back_move_leaves_no_event(engine: AsyncEngine, merchant: MerchantApp) -> None:
    payment_id, scope = await new_payment(engine, merchant)
    with pytest.raises(RuntimeError):
        async with uow(engine) as tx:
            await tx.payments.move(payment_id, scope, PaymentStatus.CANCELLED)
            raise RuntimeError("the process dies before commit")
    async with engine.connect() as conn:
        status = (await conn.execute(select(payments.c.status).where(payments.c.id == payment_id))).scalar_one()
    assert status == "initiated"
    assert await event_types(engine, payment_id) == ["payment.initiated"]


async def test_a_final_payment_never_changes(engine: AsyncEngine, merchant: MerchantApp) -> None:
    payment_id, scope = await new_payment(engine, merchant)
    async with uow(engine) as tx:
        await tx.payments.move(payment_id, scope, PaymentStatus.CANCELLED)
        await tx.commit()
    for target in (
        PaymentStatus.PENDING,
        PaymentStatus.SUCCESS,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
    ):
        with pytest.raises(TransitionRefused):
            async with uow(engine) as tx:
                await tx.payments.move(payment_id, scope, target)
                await tx.commit()
    assert await event_types(engine, payment_id) == ["payment.initiated", "payment.cancelled"]


async def test_concurrent_completions_produce_exactly_one_success(
    engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    payment_id, scope = await new_payment(engine, merchant)
    async with uow(engine) as tx:
        await tx.payments.move(payment_id, scope, PaymentStatus.PENDING)
        await tx.commit()
    # Several engines, so that on PostgreSQL the moves really run at once on separate connections.
    engines = [create_engine(settings) for _ in range(4)]

    async def complete(e: AsyncEngine, target: PaymentStatus) -> str:
        try:
            async with uow(e) as tx:
                await tx.payments.move(payment_id, scope, target)
                await tx.commit()
            return target.value
        except TransitionRefused:
            return "refused"

    try:
        targets = [
            PaymentStatus.SUCCESS,
            PaymentStatus.SUCCESS,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELLED,
        ]
        outcomes = await asyncio.gather(*(complete(e, t) for e, t in zip(engines, targets, strict=True)))
    finally:
        for e in engines:
            await e.dispose()
    winners = [o for o in outcomes if o != "refused"]
    assert len(winners) == 1, outcomes
    kinds = await event_types(engine, payment_id)
    assert kinds == ["payment.initiated", f"payment.{winners[0]}"]
