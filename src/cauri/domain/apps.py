"""Apps (a merchant's integration), what a key grants, and whose resources a request may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cauri.domain.payments import Environment


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

    @property
    def scope(self) -> Scope:
        return Scope(self.app.id, self.environment.value)


@dataclass(frozen=True, slots=True)
class KeySummary:
    environment: str
    display_prefix: str
    expires_at: datetime | None
