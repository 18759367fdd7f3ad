"""Exchange rates: the legal pegs, operator-set and feed rates, their age, and exact conversion of amounts.

A rate reads "``rate`` units of ``quote`` per unit of ``base``" (the contract's ``capture.rate``: units of the
method's currency per unit of the payment's). Rates are ``Decimal`` and conversions run on exact fractions:
no float ever touches money. Amounts are whole units of their currency, as everywhere in Cauri (see money.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
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
    """The rate to convert ``base`` into ``quote``: the peg if both are pegged; else the fresh known rate for the
    pair, read either way (the operator's before the feed's, then the newest); else one through a pegged sibling
    (an EUR→NGN rate prices XOF→NGN too). Stale rates are never used; ``None`` when no fresh way exists."""
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
    """The operator's rate before the feed's (an operator sets one to override the feed), then the newest."""
    if not rates:
        return None
    return max(rates, key=lambda r: (r.source is RateSource.OPERATOR, as_utc(r.set_at) if r.set_at else _EPOCH))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


#: The correction margin an app may set, in percent: above this it is surely a typing mistake.
MAX_MARGIN_PERCENT = Decimal(50)
_PERCENT_TEXT = re.compile(r"[0-9]{1,2}(\.[0-9]{1,4})?")


def parse_margin_percent(value: str) -> Decimal:
    """An app's correction margin as the operator types it, in percent (``2.5``), returned as a fraction
    (``Decimal("0.025")``): 0 to 50 with at most four decimals."""
    text = value.strip()
    if not _PERCENT_TEXT.fullmatch(text) or Decimal(text) > MAX_MARGIN_PERCENT:
        raise RateError(f"must be a percentage from 0 to {MAX_MARGIN_PERCENT}, such as 2.5")
    return Decimal(text) / 100


def decimal_text(value: Decimal) -> str:
    """A rate or a margin as exact plain decimal text: no exponent, no trailing zeros (``1550.25``, ``0.025``)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True, slots=True)
class Conversion:
    """A payment's amount in a method's currency, as the customer pays it: the rate used (units of the method's
    currency per unit of the payment's), the app's correction margin, and the amount debited."""

    rate: Rate
    margin: Decimal
    amount: int  # whole units of ``rate.quote``

    @property
    def currency(self) -> str:
        return self.rate.quote


def conversion(amount: int, rate: Rate, margin: Decimal = Decimal(0)) -> Conversion:
    """``amount`` of ``rate.base`` priced in ``rate.quote``: rounded half up (see ``convert``)."""
    return Conversion(rate, margin, convert(amount, rate.rate, margin))


def debited_share(amount: int, paid: int, debited: int) -> int:
    """What gives back ``amount`` of a payment of ``paid`` that debited the customer ``debited`` in the method's
    currency: the same proportion, so at the rate and margin the attempt locked, rounded half up and never more
    than ``debited`` (a full refund gives back exactly what was debited)."""
    return min(debited, int(Fraction(amount * debited, paid) + Fraction(1, 2)))


def rate_formatted(rate: Rate) -> str:
    """``1 USD = 1,550.25 NGN``: the rate for people, to six decimals, or six significant digits below 1
    (``1 NGN = 0.000645057 USD``); the exact one is ``rate``."""
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = _PRECISION, ROUND_HALF_UP
        if rate.rate >= 1:
            shown = rate.rate.quantize(Decimal("0.000001"))
        else:
            ctx.prec = 6
            shown = +rate.rate
    whole, _, fraction = decimal_text(shown).partition(".")
    grouped = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    return f"1 {rate.base} = {grouped} {rate.quote}"


class FeedError(ValueError):
    """A rates feed's document is not what ``parse_feed`` reads; ``str()`` says why."""


#: A feed lists a few hundred currencies at most: a document larger than this is not a rates feed.
FEED_MAX_BYTES = 256 * 1024


def parse_feed(document: object, known: Iterable[str], set_at: datetime) -> list[Rate]:
    """The rates in a feed's JSON document ``{"base": "USD", "rates": {"NGN": "1550.25", "GHS": 15.4}}``: units
    of each currency per unit of ``base``. A rate may be a string or a number; numbers are read through their
    decimal text (``Decimal(str(n))``), never through binary arithmetic. Currencies outside ``known``, the base
    itself and pairs the law pegs are skipped; a malformed rate refuses the whole document."""
    if not isinstance(document, Mapping):
        raise FeedError("the document is not a JSON object")
    base, listed = document.get("base"), document.get("rates")
    currencies = set(known)
    if not isinstance(base, str) or base not in currencies:
        raise FeedError("base is not a known currency code")
    if not isinstance(listed, Mapping):
        raise FeedError("rates is not an object")
    found = []
    for quote, value in listed.items():
        if not isinstance(quote, str) or quote not in currencies or quote == base or peg(base, quote) is not None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FeedError(f"the rate of {quote} is not a number")
        try:
            rate = parse_rate(value if isinstance(value, str) else _plain(value))
        except RateError as exc:
            raise FeedError(f"the rate of {quote} {exc}") from None
        found.append(Rate(base, quote, rate, RateSource.FEED, set_at))
    return found


def _plain(number: int | float) -> str:
    """A JSON number's shortest decimal text, without an exponent (``1e-05`` -> ``0.00001``)."""
    try:
        return decimal_text(Decimal(repr(number)))
    except InvalidOperation:  # nan or inf
        return "nan"
