"""PostgreSQL's grouped inserts of new payments (``store/pg_group.py``): the payments started in one turn of the
loop (and the next) go as one ``executemany``; a group that fails is rolled back whole and each of its rows goes
alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.apps import Environment, Scope
from cauri.domain.clock import utcnow
from cauri.domain.errors import Conflict
from cauri.domain.payment_request import validate_payment_request
from cauri.settings import Settings
from cauri.store import pg_group
from cauri.store.engine import create_engine
from cauri.store.idempotency import StoredResponse
from cauri.store.initialize import create_payment
from cauri.store.payments import new_payment_row
from cauri.store.tables import events, idempotency_keys, payments
from tests.conftest import MerchantApp, payment_body

TTL = timedelta(hours=24)


@pytest.fixture
def groups(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """(size, stored whole) of every group of more than one row."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's grouped inserts (SQLite groups its commits in sqlite_writer.py)")
    seen: list[tuple[int, bool]] = []
    together = pg_group._together

    async def spy(engine: AsyncEngine, statement: str, rows: list[Any]) -> bool:
        stored = await together(engine, statement, rows)
        seen.append((len(rows), stored))
        return stored

    monkeypatch.setattr(pg_group, "_together", spy)
    return seen


async def start(engine: AsyncEngine, app_id: str, key: str | None, amount: int = 500) -> StoredResponse:
    scope = Scope(app_id, Environment.SANDBOX)
    row = new_payment_row(validate_payment_request(payment_body(amount=amount)), scope, utcnow())
    answer = StoredResponse(201, row["id"].encode())  # the answer names its payment
    fingerprint = str(amount).encode()
    return await create_payment(
        engine, scope, row, {"id": row["id"]}, answer, key=key, fingerprint=fingerprint, ttl=TTL
    )


async def stored_ids(engine: AsyncEngine, app_id: str) -> set[str]:
    async with engine.connect() as conn:
        found = {r.id for r in await conn.execute(select(payments.c.id).where(payments.c.app_id == app_id))}
        evented = await conn.execute(
            select(func.count()).select_from(events).where(events.c.payment_id.in_(found or {""}))
        )
        assert evented.scalar_one() == len(found)  # each payment with its event
    return found


async def test_payments_started_together_go_as_one_group(
    engine: AsyncEngine, merchant: MerchantApp, groups: list[tuple[int, bool]]
) -> None:
    answers = await asyncio.gather(*(start(engine, merchant.id, f"k{n}") for n in range(7)))
    assert groups == [(7, True)]
    assert {a.body.decode() for a in answers} == await stored_ids(engine, merchant.id)
    assert not any(a.replayed for a in answers)


async def test_a_payment_started_on_the_next_turn_of_the_loop_joins_the_group(
    engine: AsyncEngine, merchant: MerchantApp, groups: list[tuple[int, bool]]
) -> None:
    """The requests read from the sockets on the turn after a group's first share its round trip: at peak, a
    group leaving on that turn left stragglers to groups of their own."""

    async def a_turn_later(key: str) -> StoredResponse:
        await asyncio.sleep(0)
        return await start(engine, merchant.id, key)

    answers = await asyncio.gather(start(engine, merchant.id, "now"), a_turn_later("next"))
    assert groups == [(2, True)]
    assert {a.body.decode() for a in answers} == await stored_ids(engine, merchant.id)


async def test_a_large_burst_is_split_into_groups_of_at_most_group_max(
    engine: AsyncEngine, merchant: MerchantApp, groups: list[tuple[int, bool]]
) -> None:
    answers = await asyncio.gather(*(start(engine, merchant.id, None) for _ in range(2 * pg_group.GROUP_MAX + 3)))
    assert sorted(size for size, _ in groups) == [3, pg_group.GROUP_MAX, pg_group.GROUP_MAX]
    assert len(await stored_ids(engine, merchant.id)) == len(answers)


async def test_a_replayed_key_fails_its_group_and_only_itself(
    engine: AsyncEngine, merchant: MerchantApp, groups: list[tuple[int, bool]]
) -> None:
    first = await start(engine, merchant.id, "taken")
    answers = await asyncio.gather(
        start(engine, merchant.id, "fresh-1"),
        start(engine, merchant.id, "taken"),  # the same body: replayed
        start(engine, merchant.id, "twin"),
        start(engine, merchant.id, "twin"),  # the same key twice in one group
        start(engine, merchant.id, "fresh-2"),
    )
    assert groups == [(5, False)]  # rolled back whole, then row by row
    assert answers[1] == StoredResponse(201, first.body, replayed=True)
    twins = sorted((answers[2], answers[3]), key=lambda a: a.replayed)  # either may be first, alone side by side
    assert twins[1] == StoredResponse(201, twins[0].body, replayed=True) and not twins[0].replayed
    assert not answers[0].replayed and not answers[4].replayed
    assert await stored_ids(engine, merchant.id) == {
        first.body.decode(),
        *(answers[i].body.decode() for i in (0, 2, 4)),
    }


async def test_a_row_that_fails_for_itself_fails_alone(
    engine: AsyncEngine, merchant: MerchantApp, groups: list[tuple[int, bool]]
) -> None:
    answers = await asyncio.gather(
        start(engine, merchant.id, "a"),
        start(engine, "01NOSUCHAPP000000000000000", "b"),  # no such app: a foreign key fails
        start(engine, merchant.id, "c"),
        return_exceptions=True,
    )
    assert groups == [(3, False)]
    assert isinstance(answers[1], asyncpg.ForeignKeyViolationError)
    stored = [a for a in answers if isinstance(a, StoredResponse)]
    assert {a.body.decode() for a in stored} == await stored_ids(engine, merchant.id) and len(stored) == 2


async def test_a_key_held_by_another_transaction_fails_alone_and_holds_back_no_other_row(
    engine: AsyncEngine, settings: Settings, merchant: MerchantApp, groups: list[tuple[int, bool]]
) -> None:
    blocker = create_engine(settings)  # another request's transaction, holding the key uncommitted
    try:
        async with blocker.connect() as held:
            await held.begin()
            now = utcnow()
            await held.execute(
                idempotency_keys.insert().values(
                    app_id=merchant.id, environment="sandbox", key="held", request_hash=b"\0" * 32,
                    status_code=201, response=b"{}", created_at=now, expires_at=now + TTL,
                )
            )  # fmt: skip
            finished: list[str] = []

            async def started(key: str) -> StoredResponse:
                try:
                    return await start(engine, merchant.id, key)
                finally:
                    finished.append(key)

            # "held" waits lock_timeout (300 ms here) in the group, then again alone, and gets a 409.
            answers = await asyncio.gather(started("x"), started("held"), started("y"), return_exceptions=True)
            # "y", behind "held" in the group, was not held back by it: rows go alone side by side.
            assert finished[-1] == "held", finished
            assert isinstance(answers[1], Conflict)
            stored = {a.body.decode() for a in (answers[0], answers[2]) if isinstance(a, StoredResponse)}
            assert len(stored) == 2 and stored == await stored_ids(engine, merchant.id)
    finally:
        await blocker.dispose()
    assert groups == [(3, False)]
