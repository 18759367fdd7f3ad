"""Validating what the customer types: phone numbers (phonenumbers), cards (Luhn, expiry), countries."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import phonenumbers

from cauri.domain.countries import is_country
from cauri.domain.sandbox import TEST_PHONES

_DIGITS = re.compile(r"[0-9]+")


def normalize_phone(raw: str, region: str | None, *, sandbox: bool) -> str | None:
    """International digits without "+" (``22951345780``), or None when it is not a number of ``region``.

    In the sandbox the test numbers are accepted with or without a country code; typed without one, they
    are read in ``region`` like any national number (``4149518161`` in Benin is ``2294149518161``)."""
    text = raw.strip()
    digits = "".join(c for c in text if c.isdigit())
    if sandbox and digits[-10:] in TEST_PHONES and len(digits) <= 15:
        international = text.startswith(("+", "00")) or len(digits) > 10
        calling = phonenumbers.country_code_for_region(region) if region and not international else 0
        return f"{calling}{digits}" if calling else digits
    # As typed (national or +international), then as international digits without "+" (22951345780), the
    # form merchants send in restricted_phone and customer.phone.
    for candidate, hint in ((text, region), ("+" + digits, None)):
        try:
            number = phonenumbers.parse(candidate, hint)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) and (
            region is None or phonenumbers.region_code_for_number(number) == region
        ):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    return None


def luhn_valid(number: str) -> bool:
    if not _DIGITS.fullmatch(number) or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def expiry_valid(text: str, now: datetime | None = None) -> bool:
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", text)
    if not match:
        return False
    month, year = int(match.group(1)), int(match.group(2))
    year += 2000 if year < 100 else 0
    if not 1 <= month <= 12:
        return False
    now = now or datetime.now(UTC)
    return (year, month) >= (now.year, now.month)


def country_valid(code: str) -> bool:
    return is_country(code.strip().upper())
