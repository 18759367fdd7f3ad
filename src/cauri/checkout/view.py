"""What the checkout page shows of the methods: countries, kinds and methods in the customer's language, with
their brand's colours and the numbering plan the page formats and predicts with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from babel import Locale

from cauri.domain.countries import country_names
from cauri.domain.messages import N_
from cauri.domain.methods import CATALOGUE, MethodKind, PaymentMethod
from cauri.domain.networks import NumberPlan, brand
from cauri.i18n import translate

#: The kinds' names, also the names of the methods that are no brand (a card is a "Bank card" whatever the
#: catalogue calls it: "Credit Card XOF" means nothing to a customer).
KIND_LABELS = {
    MethodKind.MOBILE_MONEY: N_("Mobile money"),
    MethodKind.CARD: N_("Bank card"),
    MethodKind.BANK_TRANSFER: N_("Bank transfer"),
    MethodKind.QR: N_("QR code"),
    MethodKind.USSD: N_("USSD"),
    MethodKind.CRYPTO: N_("Crypto"),
    MethodKind.WALLET: N_("Wallet"),
    MethodKind.TEST: N_("Test method"),
}
#: The letters shown on the brand's colour, where a logo would be (no image: zero extra requests).
MARKS = {
    "mtn": "MTN", "moov": "moov", "orange": "OM", "airtel": "A", "wave": "W", "mpesa": "M", "vodacom": "M",
    "tigo": "T", "vodafone": "T", "freemoney": "F", "e_money": "E", "wizall": "Wz", "togocel": "T",
    "zamtel": "Z", "tnm": "M", "halopesa": "H", "mobi_cash": "MC", "eu_mobile": "EU",
}  # fmt: skip
KIND_MARKS = {
    MethodKind.CARD: "••••", MethodKind.BANK_TRANSFER: "⇄", MethodKind.QR: "▦", MethodKind.USSD: "*#",
    MethodKind.CRYPTO: "₿", MethodKind.WALLET: "◎", MethodKind.TEST: "✓", MethodKind.MOBILE_MONEY: "☎",
}  # fmt: skip
#: Kinds whose methods are brands, named as the brand is (less the country the page already says).
_BRANDED = frozenset({MethodKind.MOBILE_MONEY, MethodKind.WALLET})


@dataclass(frozen=True, slots=True)
class MethodView:
    code: str
    name: str  # in the page's language, without the country the page already says
    kind: str
    brand: str  # the CSS class of its colours
    mark: str
    #: The amount in the method's own currency, when it is not the payment's ("≈ 155 025 ₦"); None otherwise.
    second_amount: str | None = None


@dataclass(frozen=True, slots=True)
class KindView:
    kind: str
    label: str
    methods: tuple[MethodView, ...]


@dataclass(frozen=True, slots=True)
class CountryView:
    code: str
    name: str
    flag: str


@cache
def _territories(language: str) -> Mapping[str, str]:
    return dict(Locale.parse(language).territories)


def territory_name(code: str, language: str) -> str:
    return _territories(language).get(code) or country_names().get(code, code)


@cache
def all_countries(language: str) -> tuple[tuple[str, str], ...]:
    """Every country, in ``language``, in its alphabetical order: the card holder's country list."""
    return tuple(sorted(((code, territory_name(code, language)) for code in country_names()), key=lambda p: p[1]))


def display_name(method: PaymentMethod, language: str) -> str:
    """ "MTN MoMo Benin" -> "MTN MoMo"; "Credit Card XOF" -> "Carte bancaire" (in French)."""
    if method.kind not in _BRANDED:
        return translate(language, KIND_LABELS[method.kind])
    name = method.name
    for code in method.countries:
        country = CATALOGUE.country(code)
        for suffix in (code, country.name if country else "", country_names().get(code, ""), "Congo"):
            if suffix and name.endswith(" " + suffix):
                name = name.removesuffix(" " + suffix)
    return name


def name_in_sentence(method: PaymentMethod, language: str) -> str:
    """The name inside a sentence: a brand as it is ("MTN MoMo"), a kind lowercased ("paid with bank card",
    "payé avec carte bancaire") unless it is an acronym ("USSD", "QR code")."""
    name = display_name(method, language)
    if method.kind in _BRANDED or len(name) < 2 or not name[1].islower():
        return name
    return name[0].lower() + name[1:]


def method_view(method: PaymentMethod, language: str, *, second_amount: str | None) -> MethodView:
    key = brand(method) if method.kind is MethodKind.MOBILE_MONEY else method.kind.value
    mark = MARKS.get(key) or KIND_MARKS.get(method.kind, "•")
    return MethodView(
        code=method.code,
        name=display_name(method, language),
        kind=method.kind.value,
        brand=key,
        mark=mark,
        second_amount=second_amount,
    )


def countries_of(methods: list[PaymentMethod]) -> list[str]:
    """The countries to choose from: those the methods are paid from (a method offered worldwide adds none),
    none when every method is offered in every one of them (the choice would change nothing)."""
    codes = sorted({code for m in methods for code in m.countries})
    return [] if all(m.serves_country(code) for m in methods for code in codes) else codes


def country_views(codes: Iterable[str], language: str) -> list[CountryView]:
    views = []
    for code in codes:
        country = CATALOGUE.country(code)
        views.append(CountryView(code, territory_name(code, language), country.flag if country else ""))
    return sorted(views, key=lambda c: c.name)


def browser_regions(accept_language: str | None) -> list[str]:
    """The countries of the browser's regional languages, in its order: ``fr-BJ,fr;q=0.9`` -> ``["BJ"]``."""
    regions = [part.split(";")[0].strip()[3:5].upper() for part in (accept_language or "").split(",")]
    return [region for region in regions if len(region) == 2 and region.isalpha()]


def guess_country(
    methods: list[PaymentMethod], *, asked: str | None, customer: Mapping[str, Any], phone_region: str | None,
    accept_language: str | None,
) -> str | None:  # fmt: skip
    """The country to preselect: the page's own choice, then the customer's data (country, then the region of
    their phone number), then the browser's regional language (``fr-CI``), then the one country where every
    method is offered (choosing it hides nothing). None: the page asks."""
    codes = countries_of(methods)
    for candidate in (asked, customer.get("country_code"), phone_region, *browser_regions(accept_language)):
        if isinstance(candidate, str) and candidate.upper() in codes:
            return candidate.upper()
    covering = [code for code in codes if all(m.serves_country(code) for m in methods)]
    return covering[0] if len(covering) == 1 else None


def kinds_in(
    methods: Iterable[PaymentMethod], country: str | None, language: str, second_amounts: Mapping[str, str]
) -> list[KindView]:
    """The methods of ``country`` (and those offered everywhere) by kind, in the catalogue's kind order."""
    chosen = [m for m in methods if country is None or m.serves_country(country)]
    views = []
    for kind in MethodKind:
        of_kind = [m for m in chosen if m.kind is kind]
        if of_kind:
            shown = tuple(method_view(m, language, second_amount=second_amounts.get(m.code)) for m in of_kind)
            views.append(KindView(kind.value, translate(language, KIND_LABELS[kind]), shown))
    return views


def plan_attributes(plan: NumberPlan | None) -> dict[str, str]:
    """The page's ``data-*`` for its script: calling code, trunk prefix, digit groups, prefixes -> method."""
    if plan is None:
        return {}
    prefixes = " ".join(f"{prefix}:{code}" for prefix, code in sorted(plan.prefixes.items()))
    return {
        "data-cc": plan.calling_code,
        "data-trunk": plan.trunk_prefix,
        "data-groups": " ".join(str(g) for g in plan.groups),
        "data-prefixes": prefixes,
    }


def safe_redirect(url: object) -> str | None:
    """A processor's page the browser may be sent to: https, or http on loopback (tests, a local simulator);
    no credentials in it. Anything else is refused, so a connector's bad data cannot make an open redirect."""
    if not isinstance(url, str) or any(ord(c) < 33 for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return None
    if parts.username or parts.password or not host:
        return None
    if parts.scheme == "https":
        return url
    loopback = host == "localhost" or host == "::1" or host.startswith("127.")
    return url if parts.scheme == "http" and loopback else None
