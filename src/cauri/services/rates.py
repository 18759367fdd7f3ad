"""Exchange rates: the operator sets them (``cauri rates set``), anyone with a key lists them, and a conversion
finds the freshest way between two currencies, the legal pegs and their crosses included."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cauri.domain.clock import iso, utcnow
from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.domain.methods import load_catalogue
from cauri.domain.rates import (
    PER_EURO,
    ExchangeRate,
    Rate,
    RateError,
    RateSource,
    find_rate,
    parse_feed,
    parse_rate,
    peg,
)
from cauri.services.runtime import UnitOfWork

__all__ = [
    "ListedRate",
    "feed_due",
    "find_fresh_rate",
    "fresh_rates",
    "list_rates",
    "rate_json",
    "set_rate",
    "store_feed",
]


@dataclass(frozen=True, slots=True)
class ListedRate:
    rate: Rate
    fresh: bool


async def set_rate(uow: UnitOfWork, base: str, quote: str, value: object, *, now: datetime | None = None) -> Rate:
    """Set the operator's rate for ``base`` → ``quote`` (``value`` units of quote per unit of base, as text),
    replacing the pair's previous one. Codes must be currencies of the catalogue; pegged pairs are the law's."""
    errors = FieldErrors()
    base, quote = base.strip().upper(), quote.strip().upper()
    catalogue = load_catalogue()
    for name, code in (("base", base), ("quote", quote)):
        if catalogue.currency(code) is None:
            errors.add(name, f"The {name} currency is not a currency Cauri knows.")
    if not errors and base == quote:
        errors.add("quote", "The quote currency must differ from the base currency.")
    if not errors and peg(base, quote) is not None:
        errors.add("quote", f"{base} and {quote} are pegged by law; their rate cannot be set.")
    parsed = None
    if not isinstance(value, str):  # a JSON number would be a float: rates are exact decimal text
        errors.add("rate", 'The rate field is required, as a string of digits such as "1550.25".')
    else:
        try:
            parsed = parse_rate(value)
        except RateError as exc:
            errors.add("rate", f"The rate {exc}.")
    if errors or parsed is None:
        raise ValidationFailed(errors)
    rate = Rate(base, quote, parsed, RateSource.OPERATOR, now or utcnow())
    async with uow:
        await uow.rates.put(rate)
        await uow.commit()
    return rate


async def list_rates(uow: UnitOfWork, max_age: timedelta, *, now: datetime | None = None) -> list[ListedRate]:
    """The legal pegs from the euro, then every stored rate by pair, each saying whether it is still used."""
    now = now or utcnow()
    async with uow.reading():
        stored = await uow.rates.all()
    pegs = [peg("EUR", code) for code in sorted(PER_EURO) if code != "EUR"]
    return [ListedRate(r, True) for r in pegs if r is not None] + [
        ListedRate(r, r.is_fresh(now, max_age)) for r in stored
    ]


async def find_fresh_rate(
    uow: UnitOfWork, base: str, quote: str, max_age: timedelta, *, now: datetime | None = None
) -> Rate | None:
    """The rate to convert ``base`` into ``quote`` now, or ``None`` when no fresh one exists (see
    ``domain.rates.find_rate``)."""
    if peg(base, quote) is not None or base == quote:
        return find_rate(base, quote, (), now or utcnow(), max_age)
    async with uow.reading():
        stored = await uow.rates.all()
    return find_rate(base, quote, stored, now or utcnow(), max_age)


async def fresh_rates(
    uow: UnitOfWork, base: str, quotes: Iterable[str], max_age: timedelta, *, now: datetime | None = None
) -> dict[str, Rate | None]:
    """For each of ``quotes``, the rate to convert ``base`` into it now, or ``None``: one read for them all."""
    wanted = sorted(set(quotes))
    if not wanted:
        return {}
    stored: list[Rate] = []
    if any(peg(base, quote) is None and quote != base for quote in wanted):
        async with uow.reading():
            stored = await uow.rates.all()
    moment = now or utcnow()
    return {quote: find_rate(base, quote, stored, moment, max_age) for quote in wanted}


async def feed_due(uow: UnitOfWork, every: timedelta, *, now: datetime | None = None) -> bool:
    """Whether the feed should be fetched: no feed rate yet, or the newest is ``every`` old. Every process runs
    the refresh job; this keeps them from all fetching each round (a rare double fetch stores the same rates)."""
    async with uow.reading():
        stored = await uow.rates.all()
    stamps = [r.set_at for r in stored if r.source is RateSource.FEED and r.set_at is not None]
    return not stamps or max(stamps) + every <= (now or utcnow())


async def store_feed(uow: UnitOfWork, document: object, *, now: datetime | None = None) -> list[Rate]:
    """Store the rates of a feed's JSON document (see ``domain.rates.parse_feed``) as source ``feed``, replacing
    the feed's previous rate of each pair, in one transaction. ``FeedError`` when the document is malformed."""
    found = parse_feed(document, load_catalogue().currencies, now or utcnow())
    async with uow:
        for rate in found:
            await uow.rates.put(rate)
        await uow.commit()
    return found


def rate_json(listed: ListedRate) -> ExchangeRate:
    """A rate as the API and ``cauri rates list --json`` show it: the rate as exact decimal text."""
    rate = listed.rate
    return {
        "base": rate.base,
        "quote": rate.quote,
        "rate": format(rate.rate, "f"),  # never "1E-7": the form the API and the CLI take back
        "source": rate.source.value,
        "set_at": iso(rate.set_at),
        "fresh": listed.fresh,
    }
