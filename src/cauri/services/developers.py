"""The dashboard's developer pages: an app's keys (rotate with a grace period, revoke), its webhook endpoints
(add with the secret shown once, disable, their delivery success) and its email settings. Each change is allowed
by the user's role and written to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cauri.domain.apps import App, KeySummary, Scope
from cauri.domain.clock import as_utc, utcnow
from cauri.domain.errors import FieldErrors, NotFound, ValidationFailed
from cauri.domain.payments import Environment
from cauri.domain.representation import WebhookEndpoint
from cauri.domain.users import Action, Forbidden, may
from cauri.services import apps as app_service
from cauri.services import webhooks as webhook_service
from cauri.services.runtime import UnitOfWork
from cauri.services.users import Session
from cauri.settings import Settings

#: The longest grace a rotation gives the old key (a month).
GRACE_MAX_HOURS = 24 * 31


@dataclass(frozen=True, slots=True)
class KeyLine:
    environment: str
    display_prefix: str
    expires_at: datetime | None
    state: str  # active, grace, revoked


@dataclass(frozen=True, slots=True)
class EndpointLine:
    id: str
    url: str
    events: list[str] | None
    created_at: str
    delivered: int
    failed: int
    pending: int

    @property
    def success_rate(self) -> int | None:
        """Delivered out of those that ended, in whole percent; None before any has."""
        ended = self.delivered + self.failed
        return round(100 * self.delivered / ended) if ended else None


@dataclass(frozen=True, slots=True)
class DeveloperView:
    app: App
    environment: str
    keys: list[KeyLine]
    endpoints: list[EndpointLine]


def _app_id(session: Session, app_id: str) -> str:
    if app_id not in session.app_ids:
        raise NotFound("App not found.")
    return app_id


def _allow(session: Session, action: Action) -> None:
    if not may(session.role, action):
        raise Forbidden("Your role does not allow this.")


async def _audit(uow: UnitOfWork, session: Session, action: str, app_id: str, target: str | None,
                 details: dict[str, Any]) -> None:  # fmt: skip
    async with uow:
        await uow.audit.record(user_id=session.user_id, actor=session.email, action=action, app_id=app_id,
                               target=target, details=details, now=utcnow())  # fmt: skip
        await uow.commit()


def _key_line(key: KeySummary, now: datetime) -> KeyLine:
    expires = as_utc(key.expires_at) if key.expires_at else None
    state = "active" if expires is None else "grace" if expires > now else "revoked"
    return KeyLine(key.environment, key.display_prefix, expires, state)


async def developer_view(uow: UnitOfWork, session: Session, app_id: str, environment: str) -> DeveloperView:
    _app_id(session, app_id)
    scope = Scope(app_id, environment)
    async with uow.reading():
        app = await uow.apps.get(app_id)
        keys = next((k for a, k in await uow.apps.list_with_keys() if a.id == app_id), [])
        rows = [r for r in await uow.webhooks.list_endpoints(scope.app_id, scope.environment) if r.is_enabled]
        counts = await uow.dashboard.delivery_counts([r.id for r in rows])
    now = utcnow()
    endpoints = [
        EndpointLine(
            r.id,
            r.url,
            None if r.event_types == "*" else r.event_types.split(","),
            as_utc(r.created_at).strftime("%Y-%m-%d %H:%M"),
            counts.get(r.id, {}).get("delivered", 0),
            counts.get(r.id, {}).get("failed", 0),
            counts.get(r.id, {}).get("pending", 0),
        )
        for r in rows
    ]
    lines = [_key_line(k, now) for k in keys if k.environment == environment]
    return DeveloperView(app, environment, lines, endpoints)


def _grace(hours: str) -> timedelta:
    text = hours.strip() or "0"
    if not (text.isascii() and text.isdigit()) or int(text) > GRACE_MAX_HOURS:
        raise ValidationFailed(FieldErrors({"grace_hours": [f"Expected whole hours from 0 to {GRACE_MAX_HOURS}."]}))
    return timedelta(hours=int(text))


async def rotate_key(uow: UnitOfWork, session: Session, app_id: str, environment: str, grace_hours: str) -> str:
    """A new key for the app's environment (the first one, or a replacement: the old ones keep working for the
    grace period); returns its secret, to show once."""
    _allow(session, Action.MANAGE_INTEGRATION)
    _app_id(session, app_id)
    grace = _grace(grace_hours)
    _app, key = await app_service.rotate_key(uow, app_id, Environment(environment), grace)
    await _audit(uow, session, "key.rotated", app_id, key.display_prefix,
                 {"environment": environment, "grace_hours": int(grace.total_seconds() // 3600)})  # fmt: skip
    return key.secret


async def revoke_key(uow: UnitOfWork, session: Session, app_id: str, display_prefix: str) -> None:
    """Revoke one of the app's keys at once."""
    _allow(session, Action.MANAGE_INTEGRATION)
    _app_id(session, app_id)
    async with uow.reading():
        keys = next((k for a, k in await uow.apps.list_with_keys() if a.id == app_id), [])
    if display_prefix not in {k.display_prefix for k in keys}:
        raise NotFound("Key not found.")
    await app_service.revoke_key(uow, display_prefix)
    await _audit(uow, session, "key.revoked", app_id, display_prefix, {})


async def add_endpoint(
    uow: UnitOfWork, session: Session, settings: Settings, app_id: str, environment: str, url: str
) -> WebhookEndpoint:
    """A new endpoint for every event, its secret generated; the answer carries the secret, to show once."""
    _allow(session, Action.MANAGE_INTEGRATION)
    _app_id(session, app_id)
    endpoint = webhook_service.validate_endpoint({"url": url}, environment, settings)
    added = await webhook_service.add_endpoint(uow, Scope(app_id, environment), endpoint, settings.secret)
    await _audit(uow, session, "webhook_endpoint.added", app_id, added["id"],
                 {"url": added["url"], "environment": environment})  # fmt: skip
    return added


async def disable_endpoint(uow: UnitOfWork, session: Session, app_id: str, environment: str, endpoint_id: str) -> None:
    _allow(session, Action.MANAGE_INTEGRATION)
    _app_id(session, app_id)
    await webhook_service.delete_endpoint(uow, Scope(app_id, environment), endpoint_id)
    await _audit(uow, session, "webhook_endpoint.disabled", app_id, endpoint_id, {"environment": environment})


async def configure_emails(
    uow: UnitOfWork, session: Session, app_id: str, *, notify_email: str, receipts: bool, notices: bool,
    failures: bool,
) -> App:  # fmt: skip
    _allow(session, Action.CONFIGURE_EMAILS)
    _app_id(session, app_id)
    app = await app_service.configure_emails(uow, app_id, notify_email=notify_email.strip(), send_receipts=receipts,
                                             send_notices=notices, notify_failures=failures)  # fmt: skip
    await _audit(uow, session, "emails.configured", app_id, app_id,
                 {"notify_email": app.notify_email, "receipts": receipts, "notices": notices,
                  "failure_notices": failures})  # fmt: skip
    return app
