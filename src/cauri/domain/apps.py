"""Apps (a merchant's integration), what a key grants, and whose resources a request may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit

from cauri.domain.emails import InvalidEmail, normalize_email
from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.domain.payments import Environment
from cauri.domain.text import has_control_characters

#: The apps table's column size.
NAME_MAX_LENGTH = 100
URL_MAX_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class App:
    id: str
    name: str
    website_url: str | None
    icon_url: str | None
    is_enabled: bool
    rate_limit: int
    expiry_minutes: int
    enabled_methods: tuple[str, ...] | None
    notify_email: str | None
    send_receipts: bool
    send_notices: bool
    notify_failures: bool
    created_at: datetime
    updated_at: datetime
    #: The correction margin on converted payments, a fraction (0.025: the customer pays the rate + 2.5 %).
    rate_margin: Decimal = Decimal(0)
    #: The merchant's notices' language; None: the server's default.
    notice_language: str | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose resources a request may see: one app, in one environment."""

    app_id: str
    environment: str


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """What a valid key grants: one app, in one environment."""

    key_id: str
    app: App
    environment: Environment
    expires_at: datetime | None
    #: Made once: every request of the key's (the hot path's several times) asks for it.
    scope: Scope = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", Scope(self.app.id, self.environment.value))


@dataclass(frozen=True, slots=True)
class KeySummary:
    environment: str
    display_prefix: str
    expires_at: datetime | None


def app_name(raw: str) -> str:
    """An app's name as stored: trimmed, 1 to 100 characters of one-line text. The name is shown on the
    checkout page, in the subject of receipts and by the CLI, so a line break or an escape sequence in it would
    break a mail header or a terminal."""
    name = raw.strip()
    if not name:
        message = "The name field is required."
    elif len(name) > NAME_MAX_LENGTH:
        message = f"The name field must not be greater than {NAME_MAX_LENGTH} characters."
    elif has_control_characters(name):
        message = "The name field must not contain control characters."
    else:
        return name
    raise ValidationFailed(FieldErrors({"name": [message]}))


def website_url(raw: str | None) -> str | None:
    """The merchant's website: an absolute http(s) URL, or None."""
    if raw is None or not raw.strip():
        return None
    url = raw.strip()
    if not _is_http_url(url):
        raise ValidationFailed(FieldErrors({"website_url": ["The website_url field must be a valid URL."]}))
    return url


def _is_http_url(url: str) -> bool:
    if len(url) > URL_MAX_LENGTH or has_control_characters(url) or " " in url:
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def notify_email(raw: str) -> str | None:
    """Where the merchant's notices go, normalised; "" for nobody."""
    if not raw.strip():
        return None
    try:
        if has_control_characters(raw):
            raise InvalidEmail("control characters")
        return normalize_email(raw.strip())
    except InvalidEmail:
        raise ValidationFailed(
            FieldErrors({"notify_email": ["The notify_email field must be a valid email address."]})
        ) from None
