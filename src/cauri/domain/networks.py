"""Which mobile money network a phone number belongs to, and how numbers of a country are written.

The number's prefix names its operator (phonenumbers' carrier data); the operator names the catalogue's
method of that brand in that country. Wave and other wallets that work on any SIM are never predicted: the
customer still picks them by hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers.carrierdata import CARRIER_DATA

from cauri.domain.methods import PaymentMethod

#: The operators (as phonenumbers' carrier data names them, lower case) behind each brand of the catalogue,
#: the brand being a method's code without its country suffix (``mtn_bj`` -> ``mtn``). Renamed operators keep
#: their brand's wallet: Tigo became Yas in Tanzania, AirtelTigo "at" in Ghana, Vodafone Ghana Telecel,
#: Halotel's owner is Viettel, Malitel (Moov Africa) is Sotelma, MTN Guinea was Areeba.
OPERATORS: Mapping[str, frozenset[str]] = {
    "mtn": frozenset({"mtn", "mtn cameroon", "areeba"}),
    "moov": frozenset({"moov", "moov africa", "sotelma"}),
    "orange": frozenset({"orange"}),
    "airtel": frozenset({"airtel"}),
    "tigo": frozenset({"at", "yas"}),
    "freemoney": frozenset({"yas"}),
    "e_money": frozenset({"expresso"}),
    "mpesa": frozenset({"safaricom", "vodacom"}),
    "vodacom": frozenset({"vodacom"}),
    "vodafone": frozenset({"telecel"}),
    "togocel": frozenset({"togo telecom"}),
    "zamtel": frozenset({"zamtel"}),
    "tnm": frozenset({"tnm"}),
    "halopesa": frozenset({"viettel"}),
}


def brand(method: PaymentMethod) -> str:
    """``mtn_bj`` -> ``mtn``, ``e_money_sn`` -> ``e_money``, ``togocel`` -> ``togocel``."""
    head, _, tail = method.code.rpartition("_")
    return head if head and len(tail) == 2 and tail.upper() in method.countries else method.code


@dataclass(frozen=True, slots=True)
class NumberPlan:
    """How a country's mobile numbers are written, for the page to format and predict as the customer types."""

    calling_code: str  # "229"
    trunk_prefix: str  # "0" where national numbers start with one (Nigeria), else ""
    groups: tuple[int, ...]  # digit groups of a national number as written there: (2, 2, 2, 2, 2)
    prefixes: Mapping[str, str]  # national significant prefix -> method code


@cache
def _operator_prefixes(calling_code: str) -> tuple[tuple[str, str], ...]:
    """(national prefix, operator in lower case) for one calling code, from phonenumbers' carrier data."""
    found = []
    for prefix, names in CARRIER_DATA.items():
        if prefix.startswith(calling_code) and len(prefix) > len(calling_code):
            name = names.get("en") or next(iter(names.values()), "")
            found.append((prefix[len(calling_code) :], name.lower()))
    return tuple(found)


def number_plan(region: str, methods: Iterable[PaymentMethod]) -> NumberPlan | None:
    """The plan of ``region``'s numbers, its prefixes mapped to those of ``methods`` that serve it."""
    calling = phonenumbers.country_code_for_region(region)
    if not calling:
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL) if example else ""
    groups = tuple(len(part) for part in ("".join(c if c.isdigit() else " " for c in national)).split())
    by_operator: dict[str, str] = {}
    for method in methods:
        if method.countries == (region,):
            for operator in OPERATORS.get(brand(method), ()):
                by_operator.setdefault(operator, method.code)
    prefixes = {p: by_operator[name] for p, name in _operator_prefixes(str(calling)) if name in by_operator}
    trunk = (metadata.national_prefix or "") if metadata is not None else ""
    return NumberPlan(str(calling), trunk if len(trunk) == 1 else "", groups, prefixes)


def predict_network(number: str, region: str, methods: Iterable[PaymentMethod]) -> str | None:
    """The code of the method whose operator owns ``number`` (national, or international with "+"/"00"),
    read in ``region``; None when no method of that operator is offered or the number is unknown."""
    plan = number_plan(region, methods)
    if plan is None:
        return None
    try:
        parsed = phonenumbers.parse(number.strip().replace("00", "+", 1) if number.strip().startswith("00")
                                    else number, region)  # fmt: skip
    except phonenumbers.NumberParseException:
        return None
    if str(parsed.country_code) != plan.calling_code:
        return None
    significant = phonenumbers.national_significant_number(parsed)
    matches = [p for p in plan.prefixes if significant.startswith(p)]
    return plan.prefixes[max(matches, key=len)] if matches else None
