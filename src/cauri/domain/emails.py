"""Email addresses: a fast path for plain ASCII ones, email-validator for everything else.

email-validator costs ~20 µs an address (IDNA checks per character), a tenth of initialize's budget. Nearly
every address is plain ASCII, which a strict pattern settles at once; the pattern accepts only addresses that
email-validator accepts too, and normalises them the same way (a property test holds it to that).
"""

from __future__ import annotations

import re

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_SUFFIXES = tuple("." + name for name in SPECIAL_USE_DOMAIN_NAMES)


class InvalidEmail(ValueError):
    pass


def normalize_email(address: str) -> str:
    """The address as stored (domain lower-cased), or ``InvalidEmail``."""
    match = _PLAIN.fullmatch(address)
    if match and len(match.group(1)) <= 64 and len(address) <= 254:
        domain = match.group(2).lower()
        # "--" may mark an IDNA label ("xn--"), whose rules only email-validator knows.
        if "--" not in domain and domain not in _SPECIAL and not domain.endswith(_SPECIAL_SUFFIXES):
            return f"{match.group(1)}@{domain}"
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
