"""Amounts: integers in the currency's main unit, never floats."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

#: Above this an amount is surely a mistake, and it stays exact in every JSON client (< 2**53).
MAX_AMOUNT = 999_999_999_999

_NUMERIC = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]+)?\s*")


class AmountError(ValueError):
    """The value is not a whole, positive amount; ``str()`` is the reason, without the field's name."""


def parse_amount(value: object) -> int:
    """Read an amount as merchants send it: ``1500``, ``1500.0`` or ``"1500.00"`` (WooCommerce sends totals as
    strings); anything fractional, non-numeric, zero or negative is refused."""
    if isinstance(value, bool):
        raise AmountError("must be an integer")
    if isinstance(value, int):
        if 0 < value <= MAX_AMOUNT:
            return value  # the common case, settled without a Decimal
        number = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise AmountError("must be an integer")
        number = Decimal(repr(value))
    elif isinstance(value, str) and _NUMERIC.fullmatch(value):
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - the pattern already vouches for the syntax
            raise AmountError("must be an integer") from exc
    else:
        raise AmountError("must be an integer")
    if number != number.to_integral_value():
        raise AmountError("must be an integer")
    if number <= 0:
        raise AmountError("must be greater than 0")
    if number > MAX_AMOUNT:
        raise AmountError(f"must not be greater than {MAX_AMOUNT}")
    return int(number)
