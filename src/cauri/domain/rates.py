"""Exchange rates: the legal pegs, operator-set and feed rates, their age, and exact conversion of amounts.

A rate reads "``rate`` units of ``quote`` per unit of ``base``" (the contract's ``capture.rate``: units of the
method's currency per unit of the payment's). Rates are ``Decimal`` and conversions run on exact fractions:
no float ever touches money. Amounts are whole units of their currency, as everywhere in Cauri (see money.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict  # pydantic needs this TypedDict before Python 3.12

from cauri.domain.clock import as_utc

#: CFA francs per euro, fixed by law (BCEAO's XOF and BEAC's XAF alike).
CFA_PER_EURO = Decimal("655.957")

#: Units per euro of each currency pegged to it; the euro itself is 1. Crosses are derived through the euro.
PER_EURO: dict[str, Decimal] = {"EUR": Decimal(1), "XOF": CFA_PER_EURO, "XAF": CFA_PER_EURO}

DEFAULT_MAX_AGE = timedelta(hours=24)

#: Operator and feed rates: at most 12 digits before the point and 12 after; nothing else is plausible.
_RATE_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")

# Inverses and products keep this many significant digits: far below half a unit of any amount Cauri accepts.
_PRECISION = 40


class RateSource(StrEnum):
    PEG = "peg"
    OPERATOR = "operator"
    FEED = "feed"


@with_config(ConfigDict(use_attribute_docstrings=True))
class ExchangeRate(TypedDict):
    """A rate as ``GET /v1/rates`` and ``cauri rates list --json`` show it (our extension)."""

    base: Annotated[str, Field(examples=["USD"])]
    quote: Annotated[str, Field(examples=["NGN"])]
    rate: Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", examples=["1550.25"])]
    """Units of ``quote`` per unit of ``base``, as exact decimal text (never a float)."""
    source: Literal["peg", "operator", "feed"]
    """``peg``: fixed by law (XOF and XAF to EUR at 655.957), never ages."""
    set_at: str | None
    """When the operator or the feed set it; null for a peg."""
    fresh: bool
    """False when older than ``CAURI_RATE_MAX_AGE_HOURS``: such a rate is not used."""


class RateError(ValueError):
    """The rate is not a positive finite decimal; ``str()`` is the reason, without the field's name."""


@dataclass(frozen=True, slots=True)
class Rate:
    base: str
    quote: str
    rate: Decimal  # units of quote per unit of base
    source: RateSource
    set_at: datetime | None  # None for a peg: it never ages

    def inverse(self) -> Rate:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            inverted = Decimal(1) / self.rate
        return Rate(self.quote, self.base, inverted, self.source, self.set_at)

    def then(self, other: Rate) -> Rate:
        """This rate followed by ``other`` (``self.quote == other.base``); as old as the older of the two."""
        assert self.quote == other.base
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            product = self.rate * other.rate
        source = other.source if self.source is RateSource.PEG else self.source
        ages = [t for t in (self.set_at, other.set_at) if t is not None]
        return Rate(self.base, other.quote, product, source, min(ages, key=as_utc) if ages else None)

    def is_fresh(self, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> bool:
        """Pegs never expire; any other rate is used for ``max_age`` after it was set, not after."""
        return self.set_at is None or as_utc(now) - as_utc(self.set_at) <= max_age


def parse_rate(value: str) -> Decimal:
    """Read a rate as an operator types it (``1550.25``): digits and an optional fraction, greater than zero.
    Exponents, signs, ``NaN`` and ``Infinity`` are refused rather than interpreted."""
    text = value.strip()
    if not _RATE_TEXT.fullmatch(text):
        raise RateError("must be a positive decimal number such as 1550.25")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already vouches for the syntax
        raise RateError("must be a positive decimal number such as 1550.25") from exc
    if number <= 0:
        raise RateError("must be greater than 0")
    return number


def peg(base: str, quote: str) -> Rate | None:
    """The legal rate between two currencies of the euro's family (EUR, XOF, XAF), derived through the euro:
    XOF and XAF are at par with each other. ``None`` for any other pair."""
    if base not in PER_EURO or quote not in PER_EURO:
        return None
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        value = PER_EURO[quote] / PER_EURO[base]
    return Rate(base, quote, value, RateSource.PEG, None)


def find_rate(
    base: str, quote: str, known: Iterable[Rate], now: datetime, max_age: timedelta = DEFAULT_MAX_AGE
) -> Rate | None:
    """The rate to convert ``base`` into ``quote``: the peg if both are pegged; else the newest fresh known rate
    for the pair, read either way; else one through a pegged sibling (an EUR→NGN rate prices XOF→NGN too).
    Stale rates are never used; ``None`` when no fresh way exists."""
    if base == quote:
        return Rate(base, quote, Decimal(1), RateSource.PEG, None)
    pegged = peg(base, quote)
    if pegged is not None:
        return pegged
    fresh = [r for r in known if r.is_fresh(now, max_age)]
    direct = _newest(_either_way(base, quote, fresh))
    if direct is not None:
        return direct
    candidates: list[Rate] = []
    if base in PER_EURO:
        for sibling in PER_EURO.keys() - {base}:
            leg = _newest(_either_way(sibling, quote, fresh))
            if leg is not None:
                candidates.append(_must(peg(base, sibling)).then(leg))
    if quote in PER_EURO:
        for sibling in PER_EURO.keys() - {quote}:
            leg = _newest(_either_way(base, sibling, fresh))
            if leg is not None:
                candidates.append(leg.then(_must(peg(sibling, quote))))
    return _newest(candidates)


def _either_way(base: str, quote: str, rates: Iterable[Rate]) -> list[Rate]:
    found = []
    for r in rates:
        if (r.base, r.quote) == (base, quote):
            found.append(r)
        elif (r.base, r.quote) == (quote, base):
            found.append(r.inverse())
    return found


def _newest(rates: list[Rate]) -> Rate | None:
    if not rates:
        return None
    return max(rates, key=lambda r: (r.set_at is not None, as_utc(r.set_at) if r.set_at else datetime.min))


def _must(rate: Rate | None) -> Rate:
    assert rate is not None
    return rate


def convert(amount: int, rate: Decimal, margin: Decimal = Decimal(0)) -> int:
    """``amount`` (whole units of the base currency) in whole units of the quote currency, at ``rate`` raised by
    the correction ``margin`` (a fraction: ``Decimal("0.02")`` is 2 %, the customer pays that much more).

    Rounding: the exact product ``amount × rate × (1 + margin)`` is rounded half up to a whole unit of the quote
    currency, the smallest unit the catalogue's amounts use. The result can be 0 for a tiny amount into a
    stronger currency; the method's minimum then refuses it."""
    if margin < 0 or margin >= 1:
        raise RateError("the correction margin must be at least 0 and below 1")
    exact = Fraction(amount) * Fraction(rate) * (1 + Fraction(margin))
    return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))
