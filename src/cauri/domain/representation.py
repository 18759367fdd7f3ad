"""The payment object as Moneroo's clients read it (verify, retrieve, list, and webhook bodies)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from cauri.domain.countries import country_name
from cauri.domain.methods import CATALOGUE, Currency, format_amount


class AppLike(Hashable, Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def website_url(self) -> str | None: ...
    @property
    def icon_url(self) -> str | None: ...
    @property
    def is_enabled(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


#: Formats a stored datetime as Moneroo does (the store knows how its database hands datetimes back).
Formatter = Callable[[datetime | None], str | None]


def currency_object(currency: Currency) -> dict[str, Any]:
    return {
        "code": currency.code,
        "name": currency.name,
        "symbol": currency.symbol,
        "symbol_first": currency.symbol_first,
        "decimals": currency.decimals,
        "decimal_mark": currency.decimal_mark,
        "thousands_separator": currency.thousands_separator,
        "subunit": currency.subunit,
        "subunit_to_unit": currency.subunit_to_unit,
        "symbol_native": currency.symbol_native,
        "decimal_digits": currency.decimals,
        "rounding": 0,
        "name_plural": currency.name_plural,
        "icon_url": None,
    }


@lru_cache(maxsize=1024)
def app_object(app: AppLike, iso: Formatter) -> dict[str, Any]:
    """The app as payments show it. Cached: apps are immutable values, and every answer embeds one."""
    return {
        "id": app.id,
        "name": app.name,
        "website_url": app.website_url,
        "icon_url": app.icon_url,
        "created_at": iso(app.created_at),
        "updated_at": iso(app.updated_at),
        "is_enabled": app.is_enabled,
    }


def capture_object(attempt: Mapping[Any, Any], payment: Mapping[Any, Any], iso: Formatter) -> dict[str, Any]:
    """The attempt that paid, or the latest one, as Moneroo's ``capture``."""
    currency = CATALOGUE.currency(payment["currency"])
    method = CATALOGUE.resolve_payment_method(attempt["method"])
    assert currency is not None
    action = attempt["next_action"] or {}
    return {
        "identifier": attempt["id"],
        "phone_number": attempt["phone"],
        "failure_message": attempt["failure_message"],
        "failure_error_code": attempt["failure_code"],
        "failure_error_type": "payment_failed" if attempt["failure_code"] else None,
        "amount": payment["amount"],
        "amount_formatted": format_amount(payment["amount"], currency),
        "currency": currency_object(currency),
        "method": {
            "id": attempt["method"],
            "name": method.name if method else attempt["method"],
            "short_code": attempt["method"],
            "icon_url": None,
        },
        "gateway": {
            "id": attempt["connector"],
            "name": "Cauri Sandbox" if attempt["connector"] == "sandbox" else attempt["connector"],
            "short_code": attempt["connector"],
            "account_name": None,
            "transaction_id": attempt["provider_reference"],
            "transaction_status": attempt["status"],
            "transaction_failure_message": attempt["failure_message"],
        },
        "context": {
            "ip": attempt["client_ip"],
            "user_agent": attempt["user_agent"],
            "local": attempt["locale"],
            "action": action.get("kind"),
        },
        "created_at": iso(attempt["created_at"]),
        "completed_at": iso(attempt["completed_at"]),
    }


def payment_object(
    payment: Mapping[str, Any],
    app: dict[str, Any],
    *,
    checkout_url: str,
    iso: Formatter,
    capture: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the verify object from a stored payment row (or the row about to be stored) and its app's
    object."""
    currency = CATALOGUE.currency(payment["currency"])
    assert currency is not None  # validated at initialize against the same catalogue
    customer = payment["customer"]
    created = iso(payment["created_at"])
    updated = iso(payment["updated_at"])
    return {
        "id": payment["id"],
        "status": payment["status"],
        "is_processed": payment["is_processed"],
        "processed_at": iso(payment["processed_at"]),
        "amount": payment["amount"],
        "amount_formatted": format_amount(payment["amount"], currency),
        "currency": currency_object(currency),
        "description": payment["description"],
        "return_url": payment["return_url"],
        "environment": payment["environment"],
        "initiated_at": iso(payment["initiated_at"]),
        "metadata": payment["metadata"],
        "app": app,
        "customer": {
            "id": customer["id"],
            "first_name": customer["first_name"],
            "last_name": customer["last_name"],
            "email": customer["email"],
            "phone": customer["phone"],
            "address": customer["address"],
            "city": customer["city"],
            "state": customer["state"],
            "country_code": customer["country_code"],
            "country": country_name(customer["country_code"]),
            "zip_code": customer["zip_code"],
            "created_at": created,
            "updated_at": updated,
        },
        "capture": capture,
        "checkout_url": checkout_url,
        "payment_phone_number": capture["phone_number"] if capture else None,
        "created_at": created,
        "updated_at": updated,
    }
