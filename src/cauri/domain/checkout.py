"""What the checkout page may offer a payment, and where it sends the customer back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cauri.domain.methods import CATALOGUE, PHONE_KINDS, MethodKind, PaymentMethod
from cauri.domain.rates import Conversion, Rate, conversion


def offered_methods(
    payment: Mapping[Any, Any], enabled: Iterable[str] | None, *, other_currencies: bool = False
) -> list[PaymentMethod]:
    """catalogue ∩ payment currency ∩ ``methods`` ∩ restricted country ∩ what the app enables; with
    ``restricted_phone``, only methods that pay from a phone number.

    With ``other_currencies``, a method the payment names in ``methods`` is kept whatever its currency (the
    caller then keeps those a fresh rate prices: see ``price_methods``). Without a ``methods`` list the payment's
    own currency still decides: a price in XOF does not suddenly list every method of its pegged siblings."""
    phone = payment.get("restricted_phone")
    country = payment.get("restrict_country_code") or (phone["country_code"] if phone else None)
    codes = payment.get("methods")
    currency = None if other_currencies and codes else payment["currency"]
    offered = CATALOGUE.payment_methods_for(currency, codes=codes, country=country)
    if phone:
        offered = [m for m in offered if m.kind in PHONE_KINDS]
    if enabled is not None:
        allowed = set(enabled)
        offered = [m for m in offered if m.code in allowed]
    return offered


def foreign_currencies(payment: Mapping[Any, Any], enabled: Iterable[str] | None) -> set[str]:
    """The currencies, other than the payment's, of the methods it names: those a rate must price."""
    named = offered_methods(payment, enabled, other_currencies=True)
    return {m.currency for m in named} - {payment["currency"]}


@dataclass(frozen=True, slots=True)
class PricedMethods:
    """What can be offered once rates are known: the methods, the conversion of each one in another currency,
    and the currencies left out because no fresh rate reaches them from the payment's."""

    methods: list[PaymentMethod]
    conversions: dict[str, Conversion]  # by method code
    unpriced: tuple[str, ...]


def price_methods(
    amount: int, currency: str, methods: Iterable[PaymentMethod], rates: Mapping[str, Rate | None], margin: Decimal
) -> PricedMethods:
    """Keep the methods in the payment's currency, and those in another that ``rates`` (fresh rates from the
    payment's currency, by the method's currency) prices, converted with the app's correction ``margin``."""
    kept: list[PaymentMethod] = []
    conversions: dict[str, Conversion] = {}
    unpriced: list[str] = []
    for method in methods:
        if method.currency == currency:
            kept.append(method)
            continue
        rate = rates.get(method.currency)
        if rate is None:
            if method.currency not in unpriced:
                unpriced.append(method.currency)
            continue
        kept.append(method)
        conversions[method.code] = conversion(amount, rate, margin)
    return PricedMethods(kept, conversions, tuple(sorted(unpriced)))


@dataclass(frozen=True, slots=True)
class MethodGroup:
    country: str | None  # None: offered everywhere
    kind: MethodKind
    methods: tuple[PaymentMethod, ...]


_KIND_ORDER = list(MethodKind)


def group_methods(methods: Iterable[PaymentMethod]) -> list[MethodGroup]:
    """Grouped by country (worldwide last), then kind, in catalogue order within a group."""
    groups: dict[tuple[str | None, MethodKind], list[PaymentMethod]] = {}
    for method in methods:
        countries: tuple[str | None, ...] = method.countries if len(method.countries) == 1 else (None,)
        groups.setdefault((countries[0], method.kind), []).append(method)
    ordered = sorted(groups, key=lambda k: (k[0] is None, k[0] or "", _KIND_ORDER.index(k[1])))
    return [MethodGroup(country, kind, tuple(groups[(country, kind)])) for country, kind in ordered]


def return_url_for(return_url: str, payment_id: str, status: str) -> str:
    """``return_url`` with the payment's id and status added, the merchant's own parameters kept.

    Both spellings are sent: ``paymentId``/``paymentStatus`` (what the WooCommerce plugin reads) and
    ``monerooPaymentId``/``monerooPaymentStatus`` (what the seed page names).
    """
    parts = urlsplit(return_url)
    ours = {"paymentId", "paymentStatus", "monerooPaymentId", "monerooPaymentStatus"}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    query += [
        ("paymentId", payment_id),
        ("paymentStatus", status),
        ("monerooPaymentId", payment_id),
        ("monerooPaymentStatus", status),
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
