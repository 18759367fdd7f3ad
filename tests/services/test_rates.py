"""The rates service on both databases: set, list, and find a fresh rate (pegs and crosses included)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.errors import ValidationFailed
from cauri.domain.rates import CFA_PER_EURO, RateSource, convert
from cauri.services.rates import find_fresh_rate, list_rates, set_rate
from cauri.store.tables import rates
from tests.conftest import uow
from tests.services.fakes import FakeUnitOfWork

DAY = timedelta(hours=24)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def clean(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Rates are global to the gateway and the test database is shared: each test starts and ends with none."""
    async with engine.begin() as conn:
        await conn.execute(delete(rates))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(delete(rates))


async def test_a_set_rate_is_stored_exactly_and_replaced_when_set_again(clean: AsyncEngine) -> None:
    await set_rate(uow(clean), "usd", "NGN", "1500", now=NOW - timedelta(hours=2))
    rate = await set_rate(uow(clean), "USD", "NGN", "1550.25", now=NOW - timedelta(hours=1))
    assert (rate.base, rate.quote, rate.rate, rate.source) == ("USD", "NGN", Decimal("1550.25"), RateSource.OPERATOR)
    listed = await list_rates(uow(clean), DAY, now=NOW)
    stored = [item for item in listed if item.rate.source is RateSource.OPERATOR]
    assert len(stored) == 1
    assert stored[0].rate == rate and stored[0].fresh
    found = await find_fresh_rate(uow(clean), "USD", "NGN", DAY, now=NOW)
    assert found == rate
    assert found is not None and convert(100, found.rate) == 155_025


async def test_listing_shows_the_pegs_and_which_rates_are_too_old(clean: AsyncEngine) -> None:
    await set_rate(uow(clean), "USD", "GHS", "15.5", now=NOW - timedelta(hours=30))
    listed = await list_rates(uow(clean), DAY, now=NOW)
    pairs = {(item.rate.base, item.rate.quote, item.rate.source, item.fresh) for item in listed}
    assert pairs == {
        ("EUR", "XAF", RateSource.PEG, True),
        ("EUR", "XOF", RateSource.PEG, True),
        ("USD", "GHS", RateSource.OPERATOR, False),
    }
    assert await find_fresh_rate(uow(clean), "USD", "GHS", DAY, now=NOW) is None
    assert await find_fresh_rate(uow(clean), "USD", "GHS", timedelta(hours=31), now=NOW) is not None


async def test_pegs_and_crosses_through_the_euro_are_found(clean: AsyncEngine) -> None:
    xof_eur = await find_fresh_rate(uow(clean), "XAF", "EUR", DAY, now=NOW)
    assert xof_eur is not None and convert(655_957, xof_eur.rate) == 1000
    assert await find_fresh_rate(uow(clean), "XOF", "NGN", DAY, now=NOW) is None
    await set_rate(uow(clean), "EUR", "NGN", "1700", now=NOW - timedelta(hours=1))
    xof_ngn = await find_fresh_rate(uow(clean), "XOF", "NGN", DAY, now=NOW)
    assert xof_ngn is not None and convert(655_957, xof_ngn.rate) == 1_700_000
    assert abs(xof_ngn.rate - Decimal(1700) / CFA_PER_EURO) < Decimal("1e-25")


@pytest.mark.parametrize(
    ("base", "quote", "value", "field"),
    [
        ("USD", "ZZZ", "1550", "quote"),
        ("US", "NGN", "1550", "base"),
        ("USD", "USD", "1", "quote"),
        ("EUR", "XOF", "650", "quote"),  # the law's rate
        ("USD", "NGN", "-3", "rate"),
        ("USD", "NGN", "NaN", "rate"),
        ("USD", "NGN", "1e9", "rate"),
        ("USD", "NGN", "0", "rate"),
    ],
)
async def test_bad_rates_are_refused_naming_the_field_and_nothing_is_written(
    clean: AsyncEngine, base: str, quote: str, value: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await set_rate(uow(clean), base, quote, value, now=NOW)
    assert caught.value.errors is not None and field in caught.value.errors.by_field
    listed = await list_rates(uow(clean), DAY, now=NOW)
    assert all(item.rate.source is RateSource.PEG for item in listed)


async def test_a_rate_is_written_only_when_its_unit_commits() -> None:
    fake = FakeUnitOfWork()
    rate = await set_rate(fake, "USD", "NGN", "1550.25", now=NOW)  # type: ignore[arg-type]
    assert fake.commits == 1 and await fake.rates.all() == [rate]
    with pytest.raises(ValidationFailed):
        await set_rate(fake, "USD", "NGN", "abc", now=NOW)  # type: ignore[arg-type]
    assert fake.commits == 1 and await fake.rates.all() == [rate]
