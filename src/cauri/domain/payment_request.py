"""The initialize request: every rule of the contract, applied to the parsed JSON body.

Messages follow Laravel's wording (Moneroo is built on it) and name each field exactly as sent, dotted
for nested fields, so a developer finds the culprit at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cauri.domain.countries import is_country
from cauri.domain.emails import InvalidEmail, normalize_email
from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.domain.methods import CATALOGUE
from cauri.domain.money import MAX_AMOUNT, AmountError, parse_amount
from cauri.domain.text import has_control_characters

DESCRIPTION_MAX = 155  # the limit of Moneroo's Laravel SDK
NAME_MAX = 100
TEXT_MAX = 255
URL_MAX = 2048
METADATA_MAX_ENTRIES = 10  # Moneroo's Laravel SDK rule
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500
#: E.164: at most 15 digits; fewer than 6 is no one's phone number (the rule of ``customer.phone``).
PHONE_DIGITS_MIN, PHONE_DIGITS_MAX = 6, 15

OPTIONAL_CUSTOMER_FIELDS = ("phone", "address", "city", "state", "country", "zip")
_OPTIONAL_CUSTOMER_LABELS = tuple((name, f"customer.{name}") for name in OPTIONAL_CUSTOMER_FIELDS)
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{4,24}")
_DIGITS = re.compile(r"[0-9]+")
_SPACE = re.compile(r"\s")  # for str patterns, exactly the characters str.isspace() accepts


@dataclass(frozen=True, slots=True)
class Customer:
    email: str
    first_name: str
    last_name: str
    phone: str | None = None
    address: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zip: str | None = None


@dataclass(frozen=True, slots=True)
class RestrictedPhone:
    number: str
    country_code: str  # ISO 3166-1 alpha-2, whichever form the merchant sent


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A validated initialize request: the only form in which one reaches the store."""

    amount: int
    currency: str
    description: str
    return_url: str
    customer: Customer
    metadata: dict[str, str]
    methods: tuple[str, ...] | None
    restrict_country_code: str | None
    restricted_phone: RestrictedPhone | None


def validate_payment_request(body: dict[str, Any]) -> PaymentRequest:
    """Check ``body`` against every rule and return the request, or raise ``ValidationFailed`` listing every
    failing field at once."""
    return _common_case(body) or _validate(body)


def _common_case(body: dict[str, Any]) -> PaymentRequest | None:
    """The request most merchants send (an integer amount, an exact currency code, plain texts, the customer's
    name and email, string metadata, no methods nor restrictions), checked by the same rules in a few
    microseconds; ``None`` for anything else, which ``_validate`` then judges (and words the errors of)."""
    amount = body.get("amount")
    currency = body.get("currency")
    customer = body.get("customer")
    metadata = body.get("metadata")
    if (
        type(amount) is not int
        or not 0 < amount <= MAX_AMOUNT
        or type(currency) is not str
        or currency not in CATALOGUE.payment_currencies  # upper-case, unpadded: as _validate would store it
        or type(customer) is not dict
        or not (metadata is None or type(metadata) is dict)
        or body.get("methods") is not None
        or body.get("restrict_country_code") is not None
        or body.get("restricted_phone") is not None
    ):
        return None
    for name in OPTIONAL_CUSTOMER_FIELDS:
        if customer.get(name) is not None:
            return None
    description = _plain(body.get("description"), DESCRIPTION_MAX)
    return_url = _plain(body.get("return_url"), URL_MAX)
    email = _plain(customer.get("email"), 254)
    first = _plain(customer.get("first_name"), NAME_MAX)
    last = _plain(customer.get("last_name"), NAME_MAX)
    if description is None or return_url is None or email is None or first is None or last is None:
        return None
    if not _is_http_url(return_url):
        return None
    try:
        email = normalize_email(email)
    except InvalidEmail:
        return None
    if metadata:
        if len(metadata) > METADATA_MAX_ENTRIES:
            return None
        for key, item in metadata.items():
            if (
                not key
                or len(key) > METADATA_KEY_MAX
                or type(item) is not str
                or len(item) > METADATA_VALUE_MAX
                or has_control_characters(key)
                or has_control_characters(item)
            ):
                return None
        metadata = dict(metadata)
    return PaymentRequest(
        amount=amount,
        currency=currency,
        description=description,
        return_url=return_url,
        customer=Customer(email=email, first_name=first, last_name=last),
        metadata=metadata or {},
        methods=None,
        restrict_country_code=None,
        restricted_phone=None,
    )


def _plain(value: object, max_length: int) -> str | None:
    """``_required_text``'s answer for a text that passes it, else ``None``."""
    if type(value) is not str or has_control_characters(value):
        return None
    text = value.strip()
    if not text or len(text) > max_length:
        return None
    return text


def _validate(body: dict[str, Any]) -> PaymentRequest:
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
        if currency not in CATALOGUE.payment_currencies:
            supported = ", ".join(sorted(CATALOGUE.payment_currencies))
            errors.add("currency", f"The currency field must be one of the supported currencies: {supported}.")
            currency = None

    description = _required_text(body, "description", errors, max_length=DESCRIPTION_MAX)
    return_url = _required_text(body, "return_url", errors, max_length=URL_MAX)
    if return_url is not None and not _is_http_url(return_url):
        errors.add("return_url", "The return_url field must be a valid URL starting with http:// or https://.")
        return_url = None

    customer = _customer(body.get("customer"), errors)
    metadata = _metadata(body.get("metadata"), errors)
    methods = _methods(body.get("methods"), errors)
    restrict_country = _restrict_country(body.get("restrict_country_code"), errors)
    restricted_phone = _restricted_phone(body.get("restricted_phone"), errors)
    if not _absent(body.get("restrict_country_code")) and not _absent(body.get("restricted_phone")):
        errors.add(
            "restrict_country_code",
            "The restrict_country_code field prohibits restricted_phone from being present.",
        )

    # Currency, methods and restrictions are each checked on their own, not against one another: the seed's
    # own example pairs USD with Nigerian methods and Moneroo accepts it; the checkout page resolves what can
    # actually be offered.

    if errors:
        raise ValidationFailed(errors)
    assert amount is not None and currency is not None and description is not None
    assert return_url is not None and customer is not None
    return PaymentRequest(
        amount=amount,
        currency=currency,
        description=description,
        return_url=return_url,
        customer=customer,
        metadata=metadata,
        methods=methods,
        restrict_country_code=restrict_country,
        restricted_phone=restricted_phone,
    )


def _absent(value: object) -> bool:
    """Null and empty strings mean "not given", as PHP forms and SDKs send them (but "\r\n" is refused: a
    control character is never taken for blank)."""
    return value is None or (isinstance(value, str) and not value.strip() and not has_control_characters(value))


def _required_text(
    body: dict[str, Any], name: str, errors: FieldErrors, *, max_length: int, label: str | None = None
) -> str | None:
    label = label or name
    value = body.get(name)
    if _absent(value):
        errors.add(label, f"The {label} field is required.")
        return None
    return _text(value, label, errors, max_length=max_length)


def _text(value: object, label: str, errors: FieldErrors, *, max_length: int) -> str | None:
    if not isinstance(value, str):
        errors.add(label, f"The {label} field must be a string.")
        return None
    text = value.strip()
    if len(text) > max_length:
        errors.add(label, f"The {label} field must not be greater than {max_length} characters.")
        return None
    if has_control_characters(value):  # the value as sent: a trailing "\n" is refused, not trimmed away
        errors.add(label, f"The {label} field must not contain control characters.")
        return None
    return text


def _is_http_url(value: str) -> bool:
    if _SPACE.search(value):
        return False
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return False
    del port
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _customer(value: object, errors: FieldErrors) -> Customer | None:
    if value is None:
        errors.add("customer", "The customer field is required.")
        return None
    if not isinstance(value, dict):
        errors.add("customer", "The customer field must be an object.")
        return None
    email = _required_text(value, "email", errors, max_length=254, label="customer.email")
    if email is not None:
        try:
            email = normalize_email(email)
        except InvalidEmail:
            errors.add("customer.email", "The customer.email field must be a valid email address.")
            email = None
    first = _required_text(value, "first_name", errors, max_length=NAME_MAX, label="customer.first_name")
    last = _required_text(value, "last_name", errors, max_length=NAME_MAX, label="customer.last_name")

    optional: dict[str, str | None] = {}
    for name, label in _OPTIONAL_CUSTOMER_LABELS:
        raw = value.get(name)
        if name == "phone" and isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)  # PHP and JavaScript clients send numbers as numbers
        if _absent(raw):
            optional[name] = None
        elif name == "phone":
            optional[name] = _phone(raw, label, errors)
        elif name == "country":
            optional[name] = _country(raw, label, errors)
        else:
            optional[name] = _text(raw, label, errors, max_length=TEXT_MAX)

    if email is None or first is None or last is None:
        return None
    return Customer(email=email, first_name=first, last_name=last, **optional)


def _phone(value: object, label: str, errors: FieldErrors) -> str | None:
    if not isinstance(value, str):
        errors.add(label, f"The {label} field must be a string.")
        return None
    if has_control_characters(value):
        errors.add(label, f"The {label} field must not contain control characters.")
        return None
    text = value.strip()
    if not _PHONE.fullmatch(text) or not PHONE_DIGITS_MIN <= sum(c.isdigit() for c in text) <= PHONE_DIGITS_MAX:
        errors.add(label, f"The {label} field must be a valid phone number.")
        return None
    return text


def _country(value: object, label: str, errors: FieldErrors) -> str | None:
    if isinstance(value, str) and has_control_characters(value):
        errors.add(label, f"The {label} field must not contain control characters.")
        return None
    if not isinstance(value, str) or not is_country(value.strip().upper()):
        errors.add(label, f"The {label} field must be an ISO 3166-1 alpha-2 country code.")
        return None
    return value.strip().upper()


def _metadata(value: object, errors: FieldErrors) -> dict[str, str]:
    if value is None or value == []:  # the Flutter SDK sends [] for "none"
        return {}
    if not isinstance(value, dict):
        errors.add("metadata", "The metadata field must be an object of string keys and string values.")
        return {}
    if len(value) > METADATA_MAX_ENTRIES:
        errors.add("metadata", f"The metadata field must not have more than {METADATA_MAX_ENTRIES} items.")
        return {}
    metadata: dict[str, str] = {}
    for key, item in value.items():
        label = f"metadata.{key}"
        if not key or len(key) > METADATA_KEY_MAX:
            errors.add("metadata", f"Each metadata key must be 1 to {METADATA_KEY_MAX} characters long.")
        elif has_control_characters(key):  # named under "metadata": the key itself must not be echoed back
            errors.add("metadata", "Each metadata key must be free of control characters.")
        elif not isinstance(item, str):
            errors.add(label, f"The {label} field must be a string.")
        elif len(item) > METADATA_VALUE_MAX:
            errors.add(label, f"The {label} field must not be greater than {METADATA_VALUE_MAX} characters.")
        elif has_control_characters(item):
            errors.add(label, f"The {label} field must not contain control characters.")
        else:
            metadata[key] = item
    return metadata


def _methods(value: object, errors: FieldErrors) -> tuple[str, ...] | None:
    if value is None or value == []:
        return None  # absent or empty: every method the payment's currency allows
    if not isinstance(value, list):
        errors.add("methods", "The methods field must be an array of payment method codes.")
        return None
    codes: list[str] = []
    for index, item in enumerate(value):
        method = CATALOGUE.resolve_payment_method(item) if isinstance(item, str) else None
        if method is None:
            errors.add(f"methods.{index}", f"The methods.{index} field must be a known payment method code.")
        elif method.code not in codes:
            codes.append(method.code)
    return tuple(codes) if codes else None


def _restrict_country(value: object, errors: FieldErrors) -> str | None:
    if _absent(value):
        return None
    return _country(value, "restrict_country_code", errors)


def _restricted_phone(value: object, errors: FieldErrors) -> RestrictedPhone | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.add("restricted_phone", "The restricted_phone field must be an object with number and country_code.")
        return None
    number = value.get("number")
    if isinstance(number, int) and not isinstance(number, bool):
        number = str(number)
    if _absent(number):
        errors.add("restricted_phone.number", "The restricted_phone.number field is required.")
        number = None
    elif isinstance(number, str) and has_control_characters(number):
        errors.add("restricted_phone.number", "The restricted_phone.number field must not contain control characters.")
        number = None
    elif not isinstance(number, str) or not _DIGITS.fullmatch(number.strip().lstrip("+")):
        errors.add("restricted_phone.number", "The restricted_phone.number field must contain digits only.")
        number = None
    elif not PHONE_DIGITS_MIN <= len(number.strip().lstrip("+")) <= PHONE_DIGITS_MAX:
        errors.add(
            "restricted_phone.number",
            f"The restricted_phone.number field must have {PHONE_DIGITS_MIN} to {PHONE_DIGITS_MAX} digits.",
        )
        number = None
    country = _phone_country(value.get("country_code"), errors)
    if number is None or country is None:
        return None
    return RestrictedPhone(number=number.strip().lstrip("+"), country_code=country)


def _phone_country(value: object, errors: FieldErrors) -> str | None:
    """Accept ``BJ`` as well as the dialling code ``229`` (or ``+229``): Moneroo leaves it undocumented."""
    label = "restricted_phone.country_code"
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if _absent(value):
        errors.add(label, f"The {label} field is required.")
        return None
    if not isinstance(value, str):
        errors.add(label, f"The {label} field must be a string.")
        return None
    if has_control_characters(value):
        errors.add(label, f"The {label} field must not contain control characters.")
        return None
    text = value.strip().lstrip("+").upper()
    if _DIGITS.fullmatch(text):
        matches = [c.code for c in CATALOGUE.countries.values() if c.dial_code == text]
        if len(matches) == 1:
            return matches[0]
    elif is_country(text):
        return text
    errors.add(label, f"The {label} field must be an ISO 3166-1 alpha-2 code (BJ) or a known dialling code (229).")
    return None
