"""The ledger: what an app collected, refunded and paid out, and what is available, per environment and
currency, as double-entry rows.

Each change that moves money writes entries that sum to zero: a payment's success moves its amount from
``customers`` to ``available``; a refund or a payout, once created, moves its amount from ``available`` to
``refunded`` or ``paid_out`` (set aside while the provider works), and back again if it fails. So
``available = collected - refunded - paid_out`` at every moment, and the sum of all entries is zero.

Live, a refund or payout beyond what is available is refused. A sandbox app has a generous credit
(``CAURI_SANDBOX_BALANCE``): its available balance may go that far below zero, so one can pay out before
collecting anything.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from cauri.domain.errors import FieldErrors, ValidationFailed

#: The account money comes from when a payment succeeds (its entries are the negative of ``collected``).
CUSTOMERS = "customers"
AVAILABLE = "available"
REFUNDED = "refunded"
PAID_OUT = "paid_out"

#: How far below zero a sandbox balance may go, per currency, unless configured otherwise.
DEFAULT_SANDBOX_CREDIT = 1_000_000_000_000

_DOCUMENTED = ConfigDict(use_attribute_docstrings=True)


@with_config(_DOCUMENTED)
class Balance(TypedDict):
    """One currency's balance for the key's app and environment (our extension)."""

    currency: Annotated[str, Field(examples=["XOF"])]
    collected: int
    """Successful payments, in the currency's main unit."""
    refunded: int
    """Refunds not failed (those still with the provider included)."""
    paid_out: int
    """Payouts not failed (those still with the provider included)."""
    available: int
    """``collected - refunded - paid_out``; in the sandbox it may go below zero, down to the sandbox's credit."""


def beyond_available(available: int, currency: str) -> ValidationFailed:
    message = f"The amount field must not be greater than the available balance ({available} {currency})."
    return ValidationFailed(FieldErrors({"amount": [message]}))
