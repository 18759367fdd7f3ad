"""The one catalogue of payment and payout methods, currencies and countries (``catalogue.json``).

It is the single source for API validation, the methods endpoints and the checkout page's filter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Any


class MethodKind(StrEnum):
    MOBILE_MONEY = "mobile_money"
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    QR = "qr"
    USSD = "ussd"
    CRYPTO = "crypto"
    WALLET = "wallet"
    TEST = "test"


#: Methods that pay from a phone number: the ones ``restricted_phone`` leaves, the ones that ask for a number.
PHONE_KINDS = frozenset({MethodKind.MOBILE_MONEY, MethodKind.USSD, MethodKind.TEST})


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    name: str
    name_plural: str
    symbol: str
    symbol_native: str
    symbol_first: bool
    decimals: int
    decimal_mark: str
    thousands_separator: str
    subunit: str | None
    subunit_to_unit: int


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name: str
    alpha_3_code: str
    dial_code: str
    currency: str
    flag: str


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    code: str
    name: str
    currency: str
    countries: tuple[str, ...]  # empty: offered worldwide
    kind: MethodKind
    customer_fields: tuple[str, ...]  # what the checkout must know about the customer to use it
    min_amount: int
    max_amount: int

    def serves_country(self, country: str) -> bool:
        return not self.countries or country in self.countries


@dataclass(frozen=True, slots=True)
class PayoutField:
    label: str
    type: str
    name: str
    length: int


@dataclass(frozen=True, slots=True)
class PayoutMethod:
    code: str
    name: str
    currency: str
    countries: tuple[str, ...]
    kind: MethodKind
    msisdn_prefix: str | None
    fields: tuple[PayoutField, ...]


@dataclass(frozen=True, slots=True)
class Catalogue:
    currencies: Mapping[str, Currency]
    countries: Mapping[str, Country]
    payment_methods: Mapping[str, PaymentMethod]  # by code, sorted
    payout_methods: Mapping[str, PayoutMethod]
    aliases: Mapping[str, str]  # older codes still sent by official code -> current codes
    payment_currencies: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "payment_currencies", frozenset(m.currency for m in self.payment_methods.values()))

    def resolve_payment_method(self, code: str) -> PaymentMethod | None:
        return self.payment_methods.get(self.aliases.get(code, code))

    def currency(self, code: str) -> Currency | None:
        return self.currencies.get(code)

    def country(self, code: str) -> Country | None:
        return self.countries.get(code)

    def payment_methods_for(
        self, currency: str | None, *, codes: Iterable[str] | None = None, country: str | None = None
    ) -> list[PaymentMethod]:
        """The methods a payment may offer: catalogue ∩ currency (``None``: any) ∩ ``codes`` (aliases resolved) ∩
        country."""
        if codes is None:
            candidates: Iterable[PaymentMethod] = self.payment_methods.values()
        else:
            resolved = (self.resolve_payment_method(c) for c in codes)
            candidates = {m.code: m for m in resolved if m is not None}.values()
        return [
            m
            for m in candidates
            if (currency is None or m.currency == currency) and (country is None or m.serves_country(country))
        ]


def _payment_method(raw: Mapping[str, Any]) -> PaymentMethod:
    return PaymentMethod(
        code=raw["code"],
        name=raw["name"],
        currency=raw["currency"],
        countries=tuple(raw["countries"]),
        kind=MethodKind(raw["kind"]),
        customer_fields=tuple(raw["customer_fields"]),
        min_amount=int(raw["min_amount"]),
        max_amount=int(raw["max_amount"]),
    )


def _payout_method(raw: Mapping[str, Any]) -> PayoutMethod:
    return PayoutMethod(
        code=raw["code"],
        name=raw["name"],
        currency=raw["currency"],
        countries=tuple(raw["countries"]),
        kind=MethodKind(raw["kind"]),
        msisdn_prefix=raw["msisdn_prefix"],
        fields=tuple(PayoutField(**f) for f in raw["fields"]),
    )


@cache
def load_catalogue() -> Catalogue:
    raw = json.loads((files("cauri.domain") / "catalogue.json").read_text(encoding="utf-8"))
    return Catalogue(
        currencies={code: Currency(**c) for code, c in raw["currencies"].items()},
        countries={code: Country(**c) for code, c in raw["countries"].items()},
        payment_methods={
            m["code"]: _payment_method(m) for m in sorted(raw["payment_methods"], key=lambda m: m["code"])
        },
        payout_methods={m["code"]: _payout_method(m) for m in sorted(raw["payout_methods"], key=lambda m: m["code"])},
        aliases=dict(raw["aliases"]),
    )


CATALOGUE = load_catalogue()


def format_amount(amount: int, currency: Currency) -> str:
    """``XOF 200``, ``XOF 1.500``, ``USD 1,500``: the code, then the amount grouped the currency's way."""
    return f"{currency.code} {amount:,}".replace(",", currency.thousands_separator)
