from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cauri.domain.money import MAX_AMOUNT
from cauri.domain.rates import (
    CFA_PER_EURO,
    FeedError,
    Rate,
    RateError,
    RateSource,
    conversion,
    convert,
    debited_share,
    decimal_text,
    find_rate,
    parse_feed,
    parse_margin_percent,
    parse_rate,
    peg,
    rate_formatted,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def operator(base: str, quote: str, value: str, hours_ago: float = 1) -> Rate:
    return Rate(base, quote, Decimal(value), RateSource.OPERATOR, NOW - timedelta(hours=hours_ago))


def test_the_legal_pegs_both_ways_and_the_cfa_francs_at_par() -> None:
    assert peg("EUR", "XOF") == Rate("EUR", "XOF", CFA_PER_EURO, RateSource.PEG, None)
    assert peg("EUR", "XAF").rate == Decimal("655.957")  # type: ignore[union-attr]
    assert peg("XOF", "XAF").rate == 1  # type: ignore[union-attr]
    assert peg("XAF", "XOF").rate == 1  # type: ignore[union-attr]
    assert convert(100, peg("XOF", "EUR").rate) == 0  # type: ignore[union-attr]
    assert convert(655_957, peg("XOF", "EUR").rate) == 1000  # type: ignore[union-attr]
    assert convert(1000, peg("EUR", "XAF").rate) == 655_957  # type: ignore[union-attr]
    assert peg("USD", "EUR") is None
    assert peg("XOF", "NGN") is None


def test_conversion_rounds_half_up_to_a_whole_unit() -> None:
    assert convert(100, Decimal("1550.25")) == 155_025
    assert convert(1, Decimal("0.5")) == 1  # exactly half: up
    assert convert(1, Decimal("0.4999")) == 0
    assert convert(3, Decimal("0.5")) == 2  # 1.5 -> 2
    assert convert(5, Decimal("0.5")) == 3  # 2.5 -> 3: half up, not to even


def test_the_margin_raises_what_the_customer_pays() -> None:
    assert convert(100, Decimal("1550.25"), Decimal("0.02")) == 158_126  # 158 125.5 rounds up
    assert convert(100, Decimal("1550.25"), Decimal("0")) == 155_025
    with pytest.raises(RateError):
        convert(100, Decimal("1550.25"), Decimal("-0.01"))
    with pytest.raises(RateError):
        convert(100, Decimal("1550.25"), Decimal("1"))


@pytest.mark.parametrize("text", ["1550.25", "1", "0.000645", " 12.5 "])
def test_rates_as_typed_are_read_exactly(text: str) -> None:
    assert parse_rate(text) == Decimal(text.strip())


@pytest.mark.parametrize("text", ["0", "0.0", "-1", "NaN", "Infinity", "1e3", "", "1,5", "abc", "1" * 13])
def test_anything_but_a_positive_plain_decimal_is_refused(text: str) -> None:
    with pytest.raises(RateError):
        parse_rate(text)


def test_a_rate_older_than_the_maximum_age_is_not_used_but_a_peg_always_is() -> None:
    stale = operator("USD", "NGN", "1550.25", hours_ago=25)
    assert not stale.is_fresh(NOW)
    assert stale.is_fresh(NOW, timedelta(hours=26))
    assert find_rate("USD", "NGN", [stale], NOW) is None
    assert find_rate("USD", "NGN", [stale], NOW, timedelta(hours=26)) == stale
    assert find_rate("XOF", "EUR", [], NOW + timedelta(days=10_000)) == peg("XOF", "EUR")


def test_the_newest_fresh_rate_wins_and_is_read_either_way() -> None:
    older, newer = operator("USD", "NGN", "1500", 3), operator("USD", "NGN", "1550.25", 1)
    assert find_rate("USD", "NGN", [older, newer], NOW) == newer
    back = find_rate("NGN", "USD", [older, newer], NOW)
    assert back is not None and (back.base, back.quote) == ("NGN", "USD")
    assert convert(155_025, back.rate) == 100


def test_a_pegged_currency_borrows_its_siblings_rate() -> None:
    eur_ngn = operator("EUR", "NGN", "1700", hours_ago=2)
    xof_ngn = find_rate("XOF", "NGN", [eur_ngn], NOW)
    assert xof_ngn is not None
    assert xof_ngn.source is RateSource.OPERATOR and xof_ngn.set_at == eur_ngn.set_at
    assert convert(655_957, xof_ngn.rate) == 1_700_000
    ngn_xaf = find_rate("NGN", "XAF", [eur_ngn], NOW)
    assert ngn_xaf is not None and convert(1_700_000, ngn_xaf.rate) == 655_957
    assert find_rate("XOF", "NGN", [operator("EUR", "NGN", "1700", hours_ago=30)], NOW) is None


def test_without_any_rate_there_is_no_conversion() -> None:
    assert find_rate("USD", "NGN", [operator("USD", "GHS", "15")], NOW) is None
    assert find_rate("USD", "USD", [], NOW).rate == 1  # type: ignore[union-attr]


_rates = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("100000"), places=6)


@given(st.integers(min_value=1, max_value=MAX_AMOUNT), _rates, st.sampled_from(["0", "0.015", "0.1"]))
def test_a_conversion_is_within_half_a_unit_of_the_exact_value(amount: int, rate: Decimal, margin: str) -> None:
    exact = Fraction(amount) * Fraction(rate) * (1 + Fraction(Decimal(margin)))
    assert abs(convert(amount, rate, Decimal(margin)) - exact) <= Fraction(1, 2)


@given(st.integers(min_value=1, max_value=MAX_AMOUNT // 100_000), _rates)
def test_convert_and_back_never_loses_more_than_one_unit(amount: int, value: Decimal) -> None:
    """Out of the weaker unit's side and back: the amount comes back within one unit (it is exact when the rate
    is at least 1, since half a quote unit is then at most half a base unit)."""
    rate = Rate("AAA", "BBB", value, RateSource.OPERATOR, NOW)
    forth, back = (rate, rate.inverse()) if value >= 1 else (rate.inverse(), rate)
    there = convert(amount, forth.rate)
    assert abs(convert(there, back.rate) - amount) <= 1


@given(st.integers(min_value=1, max_value=MAX_AMOUNT // 1000))
def test_euros_through_cfa_francs_and_back_come_back_exact(amount: int) -> None:
    eur = convert(amount, peg("EUR", "XOF").rate)  # type: ignore[union-attr]
    assert convert(eur, peg("XOF", "EUR").rate) == amount  # type: ignore[union-attr]
    assert convert(convert(amount, peg("XOF", "XAF").rate), peg("XAF", "XOF").rate) == amount  # type: ignore[union-attr]


def feed(value: object, base: str = "USD") -> list[Rate]:
    return parse_feed({"base": base, "rates": {"NGN": value}}, ["USD", "NGN", "EUR", "XOF", "GHS"], NOW)


def test_the_operators_fresh_rate_wins_over_a_newer_feed_rate_and_the_feed_fills_in_after() -> None:
    mine = operator("USD", "NGN", "1550.25", hours_ago=5)
    fed = Rate("USD", "NGN", Decimal("1490"), RateSource.FEED, NOW - timedelta(hours=1))
    assert find_rate("USD", "NGN", [fed, mine], NOW) == mine
    stale = operator("USD", "NGN", "1550.25", hours_ago=30)
    assert find_rate("USD", "NGN", [fed, stale], NOW) == fed


def test_a_feed_is_read_exactly_from_strings_and_numbers() -> None:
    assert [r.rate for r in feed("1550.25")] == [Decimal("1550.25")]
    assert [r.rate for r in feed(1550.25)] == [Decimal("1550.25")]  # the number's decimal text, not its binary value
    assert [r.rate for r in feed(1550)] == [Decimal(1550)]
    assert [r.rate for r in feed(0.1)] == [Decimal("0.1")]
    assert [r.rate for r in feed(1e-05)] == [Decimal("0.00001")]
    [rate] = feed("1550.25")
    assert (rate.base, rate.quote, rate.source, rate.set_at) == ("USD", "NGN", RateSource.FEED, NOW)


def test_a_feed_skips_what_it_cannot_price_and_refuses_what_is_malformed() -> None:
    document = {"base": "EUR", "rates": {"XOF": "650", "ZZZ": "3", "EUR": "1", "NGN": "1700", "GHS": 17}}
    assert {r.quote for r in parse_feed(document, ["EUR", "XOF", "NGN", "GHS"], NOW)} == {"NGN", "GHS"}
    for value in ("-1", "0", "NaN", "1e3", True, None, [1], float("inf"), -2):
        with pytest.raises(FeedError):
            feed(value)
    for document in ([], {"base": "ZZZ", "rates": {}}, {"base": "USD", "rates": []}, {"rates": {"NGN": "1"}}):
        with pytest.raises(FeedError):
            parse_feed(document, ["USD", "NGN"], NOW)


@pytest.mark.parametrize(("typed", "fraction"), [("2.5", "0.025"), ("0", "0"), ("50", "0.5"), ("1.2345", "0.012345")])
def test_a_margin_is_typed_in_percent_and_kept_as_an_exact_fraction(typed: str, fraction: str) -> None:
    assert decimal_text(parse_margin_percent(typed)) == fraction


@pytest.mark.parametrize("typed", ["50.01", "-1", "", "2,5", "1e1", "abc", "1.23456", "100"])
def test_a_margin_outside_0_to_50_percent_is_refused(typed: str) -> None:
    with pytest.raises(RateError):
        parse_margin_percent(typed)


def test_rates_are_shown_to_people_rounded_and_kept_exact() -> None:
    usd_ngn = operator("USD", "NGN", "1550.25")
    assert rate_formatted(usd_ngn) == "1 USD = 1,550.25 NGN"
    assert rate_formatted(usd_ngn.inverse()) == "1 NGN = 0.000645057 USD"
    assert rate_formatted(peg("EUR", "XOF")) == "1 EUR = 655.957 XOF"  # type: ignore[arg-type]
    assert decimal_text(usd_ngn.inverse().rate).startswith("0.00064505724883083373649")
    assert decimal_text(Decimal("1E+3")) == "1000" and decimal_text(Decimal("1.500")) == "1.5"


def test_a_conversion_keeps_the_rate_the_margin_and_the_amount_debited() -> None:
    locked = conversion(100, operator("USD", "NGN", "1550.25"), Decimal("0.025"))
    assert (locked.amount, locked.currency, locked.margin) == (158_901, "NGN", Decimal("0.025"))  # 158,900.625


@given(
    st.integers(min_value=1, max_value=MAX_AMOUNT // 100_000),
    _rates,
    st.decimals(min_value=0, max_value="0.5", places=4),
)
def test_a_margin_never_lowers_what_the_customer_pays(amount: int, rate: Decimal, margin: Decimal) -> None:
    plain, raised = convert(amount, rate), convert(amount, rate, margin)
    assert plain <= raised
    exact = Fraction(amount) * Fraction(rate) * (1 + Fraction(margin))
    # Half up: an exact half costs the customer the extra unit.
    assert raised - Fraction(1, 2) <= exact < raised + Fraction(1, 2)


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=10**12), st.data())
def test_refunds_give_back_the_debited_currency_in_proportion_and_never_more(
    paid: int, debited: int, data: st.DataObject
) -> None:
    part = data.draw(st.integers(min_value=1, max_value=paid))
    share = debited_share(part, paid, debited)
    assert 0 <= share <= debited and abs(share - Fraction(part * debited, paid)) <= Fraction(1, 2)
    assert debited_share(paid, paid, debited) == debited
