"""The dashboard's payment search: its filters read from a query string, the keyset cursor, and CSV cells; the
words its pages show for a delivery's and an email's state and an email's kind."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.domain.messages import N_
from cauri.domain.methods import CATALOGUE
from cauri.domain.payments import Environment, PaymentStatus
from cauri.domain.text import has_control_characters

PAGE_SIZE = 50
#: An amount is an integer of the currency's units; bigger than this is no amount anyone filters by.
AMOUNT_MAX = 10**15
TEXT_MAX = 254
_ID = re.compile(r"[a-z0-9_]{1,32}")


@dataclass(frozen=True, slots=True)
class PaymentSearch:
    """What the dashboard's payments list is narrowed to, within one app and environment."""

    environment: str = Environment.SANDBOX.value
    statuses: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    method: str | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    customer_email: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    #: The form's values as typed, to show them again.
    echo: dict[str, str] = field(default_factory=dict)


def _text(value: str, name: str, errors: FieldErrors) -> str | None:
    value = value.strip()
    if not value:
        return None
    if len(value) > TEXT_MAX or has_control_characters(value):
        errors.add(name, N_("This value is not valid."))
        return None
    return value


def _day(value: str, name: str, errors: FieldErrors) -> date | None:
    text = _text(value, name, errors)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.add(name, N_("Expected a date (YYYY-MM-DD)."))
        return None


def _amount(value: str, name: str, errors: FieldErrors) -> int | None:
    text = _text(value, name, errors)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > AMOUNT_MAX:
        errors.add(name, N_("Expected a whole amount."))
        return None
    return int(text)


def parse_search(query: dict[str, str]) -> PaymentSearch:
    """The search from a query string's values (``status``, ``from``, ``to``, ``method``, ``amount_min``,
    ``amount_max``, ``email``, ``meta`` as ``key=value``, ``env``); ``ValidationFailed`` names the field."""
    errors = FieldErrors()
    env = query.get("env", "") or Environment.SANDBOX.value
    if env not in (Environment.SANDBOX.value, Environment.LIVE.value):
        errors.add("env", N_("This value is not valid."))
        env = Environment.SANDBOX.value
    status = query.get("status", "")
    statuses: tuple[str, ...] = ()
    if status:
        if status not in PaymentStatus.__members__.values():
            errors.add("status", N_("This value is not valid."))
        else:
            statuses = (status,)
    day_from, day_to = _day(query.get("from", ""), "from", errors), _day(query.get("to", ""), "to", errors)
    method = _text(query.get("method", ""), "method", errors)
    if method is not None and CATALOGUE.payment_methods.get(method) is None:
        errors.add("method", N_("This value is not valid."))
    amount_min = _amount(query.get("amount_min", ""), "amount_min", errors)
    amount_max = _amount(query.get("amount_max", ""), "amount_max", errors)
    email = _text(query.get("email", ""), "email", errors)
    metadata: tuple[tuple[str, str], ...] = ()
    meta = _text(query.get("meta", ""), "meta", errors)
    if meta is not None:
        key, sep, value = meta.partition("=")
        if not sep or not key.strip():
            errors.add("meta", N_("Expected key=value."))
        else:
            metadata = ((key.strip(), value.strip()),)
    if errors:
        raise ValidationFailed(errors)
    return PaymentSearch(
        environment=env,
        statuses=statuses,
        created_from=datetime.combine(day_from, datetime.min.time(), UTC) if day_from else None,
        created_to=datetime.combine(day_to + timedelta(days=1), datetime.min.time(), UTC) if day_to else None,
        method=method,
        amount_min=amount_min,
        amount_max=amount_max,
        customer_email=email.lower() if email else None,
        metadata=metadata,
        echo={k: v for k, v in query.items() if k in SEARCH_FIELDS and v},
    )


SEARCH_FIELDS = ("env", "status", "from", "to", "method", "amount_min", "amount_max", "email", "meta")


def encode_cursor(created_at: datetime, payment_id: str) -> str:
    text = f"{created_at.astimezone(UTC).isoformat()}|{payment_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The (created_at, id) a cursor stands for, or None for one this server did not make."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, payment_id = text.split("|", 1)
        at = datetime.fromisoformat(stamp)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if at.tzinfo is None or not _ID.fullmatch(payment_id):
        return None
    return at, payment_id


#: A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: a leading formula character gets a quote before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


#: A webhook delivery's state (``deliveries.status``), as the pages say it.
DELIVERY_STATUS_LABELS = {"pending": N_("waiting"), "delivered": N_("delivered"), "failed": N_("failed")}
#: An email's state (``emails.status``) and kind (``emails.kind``), as the pages say them.
EMAIL_STATUS_LABELS = {"pending": N_("waiting"), "sent": N_("sent"), "failed": N_("failed")}
EMAIL_KIND_LABELS = {"receipt": N_("receipt"), "notice": N_("merchant notice")}
