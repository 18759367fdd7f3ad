"""French and English for every face (checkout, mail, dashboard): the catalogues, compiled in memory on first
use, locale choice and money formatting (the marker ``N_`` lives in ``cauri.domain.messages``).

Every message is a literal where it is written: ``_("…")``/``gettext("…")`` in templates and faces, ``N_("…")``
where the text is defined in one place and translated in another (a service's refusal, a connector's failure
message). ``make messages`` extracts them all; ``tests/i18n`` fails while one has no French translation."""

from __future__ import annotations

import io
import re
from functools import cache
from importlib.resources import files

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, get_currency_symbol, parse_pattern
from babel.support import NullTranslations, Translations

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"  # most of our customers' phones are set to French


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue for ``language``; English is the source language, so it needs none."""
    if language == "en":
        return NullTranslations()
    po = files("cauri.i18n") / "translations" / language / "LC_MESSAGES" / "messages.po"
    catalog = read_po(io.BytesIO(po.read_bytes()), locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def translate(language: str, message: str) -> str:
    """``message`` in ``language``, where ``message`` came from elsewhere: a literal marked with ``N_`` where it
    was written (a refusal, a connector's failure message). Text with no entry (a provider's own words) stays as
    it is. Literals are translated with ``gettext("…")`` instead, so the extractor sees them."""
    return translations(language).gettext(message)


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """``?lang=`` first, then the remembered choice, then the browser's preferences."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def format_money(amount: int, currency: str, language: str) -> str:
    """``5 000 F CFA`` in French, ``F CFA 5,000`` in English: whole amounts, the way people read them."""
    pattern, locale = _money_pattern(currency, language)
    text: str = pattern.apply(amount, locale, currency=currency, currency_digits=False)
    return text


@cache
def _money_pattern(currency: str, language: str) -> tuple[NumberPattern, Locale]:
    """The pattern and locale of ``format_money``, worked out once per currency and language (a list page formats
    dozens of amounts)."""
    try:
        locale = Locale.parse(f"{language}_SN" if language == "fr" else "en")
    except UnknownLocaleError:  # pragma: no cover - both locales ship with Babel
        locale = Locale("en")
    # Amounts are whole units: drop the pattern's decimals rather than print ",00" after every price.
    pattern = re.sub(r"\.0+", "", locale.currency_formats["standard"].pattern)
    if len(get_currency_symbol(currency, locale=locale)) > 1:
        pattern = pattern.replace("¤#", "¤\u00a0#")  # "F CFA 5,000", not "F CFA5,000"
    return parse_pattern(pattern), locale


__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "choose_language", "format_money", "translate", "translations"]
