"""The payout initialize request: the contract's rules, applied to the parsed JSON body.

Amount, description, customer and metadata follow the payment's rules (the same helpers, the same messages);
``method`` must be a payout method, ``currency`` the method's, and ``recipient`` must carry the fields the
method asks for: ``msisdn`` for mobile money, ``account_number`` for ``moneroo_payout_demo``.

A recipient's ``msisdn`` is international digits without ``+`` (``22951345020``), of the method's country.
Live, it must be a valid number of that country (phonenumbers). In the sandbox, as on Moneroo's, the number is
only checked for the country's calling code (the sandbox decides the outcome by the test numbers, and pays
out nothing), and the test numbers (``4149518161``…) are accepted as they are, with or without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers

from cauri.domain.countries import country_name
from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.domain.methods import CATALOGUE, PayoutMethod
from cauri.domain.money import AmountError, parse_amount
from cauri.domain.payment_request import (
    DESCRIPTION_MAX,
    Customer,
    _absent,
    _customer,
    _metadata,
    _required_text,
)
from cauri.domain.sandbox import TEST_PAYOUT_NUMBERS

#: Every currency some payout method pays out in.
PAYOUT_CURRENCIES = frozenset(m.currency for m in CATALOGUE.payout_methods.values())
#: E.164's longest number; no account number of the test method is longer either.
RECIPIENT_DIGITS_MAX = 15


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """A validated payout request: the only form in which one reaches the store."""

    amount: int
    currency: str
    description: str
    method: str
    recipient: dict[str, str]  # the method's fields (msisdn or account_number), digits only
    customer: Customer
    metadata: dict[str, str]


def validate_payout_request(body: dict[str, Any], *, sandbox: bool) -> PayoutRequest:
    """Check ``body`` against every rule and return the request, or raise ``ValidationFailed`` listing every
    failing field at once."""
    errors = FieldErrors()

    amount: int | None = None
    if _absent(body.get("amount")):
        errors.add("amount", "The amount field is required.")
    else:
        try:
            amount = parse_amount(body["amount"])
        except AmountError as exc:
            errors.add("amount", f"The amount field {exc}.")

    currency = _required_text(body, "currency", errors, max_length=3)
    if currency is not None:
        currency = currency.upper()
        if currency not in PAYOUT_CURRENCIES:
            supported = ", ".join(sorted(PAYOUT_CURRENCIES))
            errors.add("currency", f"The currency field must be one of the payout currencies: {supported}.")
            currency = None

    description = _required_text(body, "description", errors, max_length=DESCRIPTION_MAX)

    method: PayoutMethod | None = None
    code = _required_text(body, "method", errors, max_length=40)
    if code is not None:
        method = CATALOGUE.payout_methods.get(code.lower())
        if method is None:
            errors.add("method", "The method field must be a known payout method code (see /utils/payout/methods).")
        elif currency is not None and currency != method.currency:
            errors.add("currency", f"The currency field must be {method.currency} for the method {method.code}.")

    customer = _customer(body.get("customer"), errors)
    metadata = _metadata(body.get("metadata"), errors)
    recipient = _recipient(body.get("recipient"), method, errors, sandbox=sandbox)

    if errors:
        raise ValidationFailed(errors)
    assert amount is not None and currency is not None and description is not None
    assert method is not None and customer is not None and recipient is not None
    return PayoutRequest(
        amount=amount,
        currency=currency,
        description=description,
        method=method.code,
        recipient=recipient,
        customer=customer,
        metadata=metadata,
    )


def _recipient(
    value: object, method: PayoutMethod | None, errors: FieldErrors, *, sandbox: bool
) -> dict[str, str] | None:
    if value is None or value == []:
        errors.add("recipient", "The recipient field is required.")
        return None
    if not isinstance(value, dict):
        errors.add("recipient", "The recipient field must be an object.")
        return None
    if method is None:
        return None  # what it needs depends on the method, already reported
    recipient: dict[str, str] = {}
    for field in method.fields:
        label = f"recipient.{field.name}"
        raw = value.get(field.name)
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)  # PHP and JavaScript clients send numbers as numbers
        if _absent(raw):
            errors.add(label, f"The {label} field is required for the method {method.code}.")
            continue
        if not isinstance(raw, str):
            errors.add(label, f"The {label} field must be a string of digits.")
            continue
        digits = raw.strip().removeprefix("+") if field.name == "msisdn" else raw.strip()
        if not digits.isascii() or not digits.isdigit() or len(digits) > RECIPIENT_DIGITS_MAX:
            errors.add(label, f"The {label} field must be at most {RECIPIENT_DIGITS_MAX} digits, without + or spaces.")
            continue
        if field.name == "msisdn":
            problem = _msisdn_problem(digits, method, sandbox=sandbox)
            if problem is not None:
                errors.add(label, f"The {label} field {problem}.")
                continue
        recipient[field.name] = digits
    return recipient if len(recipient) == len(method.fields) else None


def _msisdn_problem(digits: str, method: PayoutMethod, *, sandbox: bool) -> str | None:
    """Why ``digits`` is not a number of the method's country, or None when it is."""
    if sandbox and digits[-10:] in TEST_PAYOUT_NUMBERS:
        return None
    country = method.countries[0]
    calling_code = str(phonenumbers.country_code_for_region(country))
    name = country_name(country) or country
    if not digits.startswith(calling_code) or len(digits) < len(calling_code) + 6:
        return f"must be a number of {name} in international format, starting with {calling_code}"
    if sandbox:
        return None
    number = phonenumbers.parse("+" + digits)
    if not phonenumbers.is_valid_number_for_region(number, country):
        return f"must be a valid phone number of {name}"
    return None
