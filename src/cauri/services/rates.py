"""Exchange rates: the operator sets them (``cauri rates set``), anyone with a key lists them, and a conversion
finds the freshest way between two currencies, the legal pegs and their crosses included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cauri.domain.clock import iso, utcnow
from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.domain.methods import load_catalogue
from cauri.domain.rates import PER_EURO, ExchangeRate, Rate, RateError, RateSource, find_rate, parse_rate, peg
from cauri.services.runtime import UnitOfWork

__all__ = ["ListedRate", "find_fresh_rate", "list_rates", "rate_json", "set_rate"]


@dataclass(frozen=True, slots=True)
class ListedRate:
    rate: Rate
    fresh: bool


async def set_rate(uow: UnitOfWork, base: str, quote: str, value: str, *, now: datetime | None = None) -> Rate:
    """Set the operator's rate for ``base`` → ``quote`` (``value`` units of quote per unit of base), replacing
    the pair's previous one. Codes must be currencies of the catalogue; pegged pairs are the law's, not ours."""
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
    try:
        parsed = parse_rate(value)
    except RateError as exc:
        errors.add("rate", f"The rate {exc}.")
    if errors:
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


def rate_json(listed: ListedRate) -> ExchangeRate:
    """A rate as the API and ``cauri rates list --json`` show it: the rate as exact decimal text."""
    rate = listed.rate
    return {
        "base": rate.base,
        "quote": rate.quote,
        "rate": str(rate.rate),
        "source": rate.source.value,
        "set_at": iso(rate.set_at),
        "fresh": listed.fresh,
    }
