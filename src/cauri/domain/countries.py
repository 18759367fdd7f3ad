"""ISO 3166-1 alpha-2 country codes and their English names (from CLDR, through Babel)."""

from __future__ import annotations

from functools import cache

from babel import Locale

# CLDR territories that are not countries of ISO 3166-1 (unknown, unions, pseudo-regions).
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})


@cache
def country_names() -> dict[str, str]:
    return {
        code: name
        for code, name in Locale("en").territories.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    }


def is_country(code: str) -> bool:
    return code in country_names()


def country_name(code: str | None) -> str | None:
    return country_names().get(code) if code else None
