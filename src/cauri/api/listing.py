"""The list endpoint's query string: filters, page size and an opaque cursor."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import orjson

from cauri.api.identifiers import is_identifier
from cauri.domain.clock import as_utc, iso
from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.domain.payment_request import METADATA_VALUE_MAX
from cauri.domain.payments import PaymentFilter, PaymentStatus
from cauri.domain.text import has_control_characters

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
EMAIL_MAX = 254  # no stored email is longer
#: Moments the database and the clock arithmetic can hold, with a day's margin for time zones.
_EARLIEST, _LATEST = datetime(2, 1, 1, tzinfo=UTC), datetime(9998, 12, 31, tzinfo=UTC)
_METADATA_PARAM = re.compile(r"metadata\[([^\[\]]{1,40})\]")


@dataclass(frozen=True, slots=True)
class ListQuery:
    where: PaymentFilter
    limit: int
    after: tuple[datetime, str] | None


def parse_list_query(
    params: Iterable[tuple[str, str]], statuses_allowed: Iterable[str] = tuple(PaymentStatus)
) -> ListQuery:
    """Read ``status`` (repeatable or comma-separated), ``created_from`` / ``created_to`` (ISO 8601 dates or
    datetimes; a date-only ``created_to`` includes that whole day), ``customer_email``,
    ``metadata[key]=value``
    (repeatable), ``limit`` (1-100, default 20) and ``cursor``; unknown parameters are ignored. ``status``
    takes one of ``statuses_allowed`` (the payments' by default; the payouts list passes its own)."""
    allowed_statuses = [str(s) for s in statuses_allowed]
    errors = FieldErrors()
    statuses: list[str] = []
    metadata: list[tuple[str, str]] = []
    created_from = created_to = None
    email: str | None = None
    limit = DEFAULT_LIMIT
    after = None
    for name, value in params:
        if name == "status":
            for status in filter(None, (s.strip() for s in value.split(","))):
                if status not in allowed_statuses:
                    allowed = ", ".join(allowed_statuses)
                    errors.add("status", f"The status field must be one of: {allowed}.")
                elif status not in statuses:
                    statuses.append(status)
        elif name in ("created_from", "created_to"):
            moment = _moment(value, end_of_day=name == "created_to")
            if moment is None:
                errors.add(name, f"The {name} field must be an ISO 8601 date or date-time.")
            elif name == "created_from":
                created_from = moment
            else:
                created_to = moment
        elif name == "customer_email":
            if has_control_characters(value):
                errors.add("customer_email", "The customer_email field must not contain control characters.")
            elif len(value.strip()) > EMAIL_MAX:
                errors.add(name, f"The customer_email field must not be greater than {EMAIL_MAX} characters.")
            email = value.strip() or None
        elif name == "limit":
            if not (value.isascii() and value.isdigit() and len(value) <= 3) or not 1 <= int(value) <= MAX_LIMIT:
                errors.add("limit", f"The limit field must be an integer between 1 and {MAX_LIMIT}.")
            else:
                limit = int(value)
        elif name == "cursor":
            after = _decode_cursor(value)
            if after is None:
                errors.add("cursor", "The cursor field is not a cursor this endpoint returned.")
        elif match := _METADATA_PARAM.fullmatch(name):
            if has_control_characters(match.group(1)):  # the key: not echoed back as a field name
                errors.add("metadata", "Each metadata key must be free of control characters.")
            elif has_control_characters(value):
                errors.add(name, f"The {name} field must not contain control characters.")
            elif len(value) > METADATA_VALUE_MAX:
                errors.add(name, f"The {name} field must not be greater than {METADATA_VALUE_MAX} characters.")
            metadata.append((match.group(1), value))
    if errors:
        raise ValidationFailed(errors)
    where = PaymentFilter(tuple(statuses), created_from, created_to, email, tuple(metadata))
    return ListQuery(where=where, limit=limit, after=after)


def _moment(value: str, *, end_of_day: bool) -> datetime | None:
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(), tzinfo=UTC)
            moment = start + timedelta(days=1) if end_of_day else start
        else:
            moment = as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # year 9999 plus a day, or year 1 moved to UTC
        return None
    return moment if _EARLIEST <= moment <= _LATEST else None


def next_cursor(created_at: datetime, payment_id: str) -> str:
    raw = orjson.dumps([iso(created_at), payment_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(value: str) -> tuple[datetime, str] | None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        stamp, payment_id = orjson.loads(raw)
        moment = as_utc(datetime.fromisoformat(str(stamp).replace("Z", "+00:00")))
    except (binascii.Error, ValueError, TypeError, OverflowError):
        return None
    if not _EARLIEST <= moment <= _LATEST:
        return None
    if not isinstance(payment_id, str) or not is_identifier(payment_id):
        return None
    return moment, payment_id
