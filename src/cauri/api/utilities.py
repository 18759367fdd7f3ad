"""``/utils/payment/methods`` and ``/utils/payout/methods``: public, no ``/v1``, no key (as on Moneroo)."""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.envelope import RawJSONResponse, envelope_bytes
from cauri.domain.methods import CATALOGUE, Country, MethodKind

_KIND_WORDS = {
    MethodKind.MOBILE_MONEY: "Mobile money",
    MethodKind.CARD: "Card payment",
    MethodKind.BANK_TRANSFER: "Bank transfer",
    MethodKind.QR: "QR code payment",
    MethodKind.USSD: "USSD payment",
    MethodKind.CRYPTO: "Crypto payment",
    MethodKind.WALLET: "Wallet payment",
    MethodKind.TEST: "Test method (sandbox only)",
}


def _country(country: Country) -> dict[str, Any]:
    currency = CATALOGUE.currency(country.currency)
    return {
        "name": country.name,
        "code": country.code,
        "alpha_3_code": country.alpha_3_code,
        "dial_code": country.dial_code,
        "currency": country.currency,
        "currency_symbol": currency.symbol if currency else None,
        "flag": country.flag,
    }


def _countries(codes: tuple[str, ...]) -> list[dict[str, Any]]:
    # A worldwide method lists every country the catalogue knows, so clients filtering by country keep it.
    chosen = codes or tuple(CATALOGUE.countries)
    return [_country(CATALOGUE.countries[c]) for c in chosen if c in CATALOGUE.countries]


def _currency(code: str) -> dict[str, Any]:
    currency = CATALOGUE.currency(code)
    assert currency is not None
    return {"name": currency.name, "symbol": currency.symbol, "code": currency.code, "icon_url": None}


@cache
def payment_methods_body() -> bytes:
    data = [
        {
            "name": m.name,
            "short_code": m.code,
            "description": f"{_KIND_WORDS[m.kind]}: {m.name}",
            "icon_url": None,
            "is_enabled": True,
            "kind": m.kind.value,
            "fields": [],
            "currency": _currency(m.currency),
            "countries": _countries(m.countries),
            "min_amount": m.min_amount,
            "max_amount": m.max_amount,
        }
        for m in CATALOGUE.payment_methods.values()
    ]
    return envelope_bytes("Payment methods fetched successfully!", data)


@cache
def payout_methods_body() -> bytes:
    data = [
        {
            "name": m.name,
            "short_code": m.code,
            "description": f"{_KIND_WORDS[m.kind]}: {m.name}",
            "icon_url": None,
            "is_enabled": True,
            "kind": m.kind.value,
            "fields": [{"label": f.label, "type": f.type, "name": f.name, "length": f.length} for f in m.fields],
            "currency": _currency(m.currency),
            "countries": _countries(m.countries),
        }
        for m in CATALOGUE.payout_methods.values()
    ]
    return envelope_bytes("Payout methods fetched successfully!", data)


async def payment_methods(_request: Request) -> Response:
    return RawJSONResponse(payment_methods_body(), headers={"Cache-Control": "public, max-age=300"})


async def payout_methods(_request: Request) -> Response:
    return RawJSONResponse(payout_methods_body(), headers={"Cache-Control": "public, max-age=300"})


routes = [
    Route("/utils/payment/methods", payment_methods, methods=["GET"]),
    Route("/utils/payout/methods", payout_methods, methods=["GET"]),
]
