"""Exchange rates in the database: set (replacing the pair's rate from the same source) and read back."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.clock import as_utc
from cauri.domain.rates import Rate, RateSource
from cauri.store.tables import rates


class RateRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def put(self, rate: Rate) -> None:
        """Replace the pair's rate from this source (a delete and an insert: the same SQL on both databases)."""
        assert rate.source is not RateSource.PEG and rate.set_at is not None, "pegs are law, not rows"
        key = (rates.c.base == rate.base, rates.c.quote == rate.quote, rates.c.source == rate.source.value)
        await self.conn.execute(delete(rates).where(*key))
        await self.conn.execute(
            rates.insert(),
            {
                "base": rate.base,
                "quote": rate.quote,
                "source": rate.source.value,
                "rate": str(rate.rate),
                "set_at": rate.set_at,
            },
        )

    async def all(self) -> list[Rate]:
        query = select(rates).order_by(rates.c.base, rates.c.quote, rates.c.source)
        return [
            Rate(row.base, row.quote, Decimal(row.rate), RateSource(row.source), as_utc(row.set_at))
            for row in (await self.conn.execute(query)).all()
        ]
