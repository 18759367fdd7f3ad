from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cauri.domain.money import MAX_AMOUNT, AmountError, parse_amount


@given(st.integers(min_value=1, max_value=MAX_AMOUNT))
def test_every_positive_integer_in_any_accepted_form_parses_to_itself(n: int) -> None:
    assert parse_amount(n) == n
    assert parse_amount(str(n)) == n
    assert parse_amount(f"{n}.00") == n
    if n < 2**53:
        assert parse_amount(float(n)) == n


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=99))
def test_fractional_amounts_are_refused(whole: int, cents: int) -> None:
    with pytest.raises(AmountError, match="must be an integer"):
        parse_amount(f"{whole}.{cents:02d}")
    with pytest.raises(AmountError, match="must be an integer"):
        parse_amount(whole + cents / 100)


@given(st.integers(max_value=0))
def test_zero_and_negative_are_refused(n: int) -> None:
    with pytest.raises(AmountError, match="greater than 0"):
        parse_amount(n)


@pytest.mark.parametrize("value", [None, True, False, "", "1e3", "0x10", "١٢", [], {}, float("nan"), float("inf")])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(AmountError):
        parse_amount(value)
