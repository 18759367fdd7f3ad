"""What the dashboard's developers' pages manage: API keys and their states, the grace a rotation gives, the
app's email settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cauri.domain.errors import FieldErrors, ValidationFailed

#: The grace periods a rotation offers, in hours (the old key works this long beside the new one).
GRACE_HOURS = (0, 1, 24, 72, 168)
DEFAULT_GRACE_HOURS = 24
#: The languages a merchant's notices may be written in; "" keeps the server's default.
NOTICE_LANGUAGES = ("fr", "en")


class KeyState(StrEnum):
    ACTIVE = "active"
    GRACE = "grace"  # rotated: still works until its expiry
    REVOKED = "revoked"  # expired or revoked: refused


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    environment: str
    display_prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> KeyState:
        if self.expires_at is None:
            return KeyState.ACTIVE
        return KeyState.GRACE if self.expires_at > now else KeyState.REVOKED


def grace_period(raw: str) -> timedelta:
    """One of ``GRACE_HOURS`` as typed in the form; ``ValidationFailed`` names the field otherwise."""
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) < 5 and int(text) in GRACE_HOURS:
        return timedelta(hours=int(text))
    choices = ", ".join(str(h) for h in GRACE_HOURS)
    raise ValidationFailed(FieldErrors({"grace": [f"The grace field must be one of: {choices} (hours)."]}))


def notice_language(raw: str) -> str | None:
    """The notices' language, or None for the server's default."""
    text = raw.strip()
    if not text:
        return None
    if text in NOTICE_LANGUAGES:
        return text
    raise ValidationFailed(FieldErrors({"language": ["The language field must be one of: fr, en."]}))
