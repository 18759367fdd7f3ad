"""The dashboard's developers' pages: an app's API keys (create, rotate with a grace period, revoke, last use),
its webhook endpoints (add, disable, send a test event, how many deliveries succeed), its email settings and its
accounts at providers (listed with the order routing tries them in, added, removed; never their credentials).

Every change is allowed by the user's role and recorded in the audit log in the same transaction as the change.
A new key's or endpoint's secret is returned once, for the page that answers its creation, and never again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cauri.domain.apps import App, Scope
from cauri.domain.apps import notify_email as checked_notify_email
from cauri.domain.clock import as_utc, utcnow
from cauri.domain.developers import ApiKey, KeyState, grace_period, notice_language
from cauri.domain.errors import NotFound
from cauri.domain.keys import NewKey
from cauri.domain.overview import success_rate
from cauri.domain.payments import Environment
from cauri.domain.providers import ProviderAccountSummary, ProviderSpec
from cauri.domain.users import Action, Forbidden, may
from cauri.domain.webhooks import WEBHOOK_EVENTS
from cauri.services import providers as provider_service
from cauri.services.runtime import UnitOfWork
from cauri.services.users import Session
from cauri.services.webhooks import ENDPOINT_NOT_FOUND, validate_endpoint
from cauri.settings import Settings

KEY_NOT_FOUND = "Key not found."
#: How far back an endpoint's deliveries count in its success rate.
STATS_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class EndpointSummary:
    id: str
    url: str
    environment: str
    events: list[str] | None  # None: every event
    is_enabled: bool
    created_at: datetime
    delivered: int
    failed: int  # for good, or still retrying after a failed try
    pending: int  # not tried yet
    success_rate: int | None  # whole percent of the finished or retried deliveries, None when none

    @property
    def failing(self) -> bool:
        return self.is_enabled and self.failed > 0


def _allow(session: Session, action: Action) -> None:
    if not may(session.role, action):
        raise Forbidden("Your role does not allow this.")


def _app(session: Session, app_id: str) -> str:
    if app_id not in session.app_ids:
        raise NotFound("App not found.")
    return app_id


def _environment(raw: str) -> Environment:
    return Environment.LIVE if raw == "live" else Environment.SANDBOX


async def _audit(uow: UnitOfWork, session: Session, action: str, app_id: str, target: str,
                 details: dict[str, Any]) -> None:  # fmt: skip
    """In the caller's transaction: the change and its record commit together."""
    await uow.audit.record(user_id=session.user_id, actor=session.email, action=action, app_id=app_id,
                           target=target, details=details, now=utcnow())  # fmt: skip


# Keys.


async def keys(uow: UnitOfWork, session: Session, app_id: str) -> list[ApiKey]:
    _app(session, app_id)
    async with uow.reading():
        return await uow.apps.keys_of(app_id)


async def create_key(uow: UnitOfWork, session: Session, app_id: str, environment: str) -> NewKey:
    """A new key beside the app's others (none of them stops); its secret is returned once."""
    _allow(session, Action.MANAGE_KEYS)
    env = _environment(environment)
    async with uow:
        _app(session, app_id)
        key = await uow.apps.add_key(app_id, env, utcnow())
        await _audit(uow, session, "key.created", app_id, key.display_prefix, {"environment": env.value})
        await uow.commit()
    return key


async def rotate_key(uow: UnitOfWork, session: Session, app_id: str, key_id: str, grace: str) -> NewKey:
    """A new key for the same environment; the old one keeps working for the grace period only (0: stops
    now). ``ValidationFailed`` names ``grace``; ``NotFound`` unless the key is the app's and still active."""
    _allow(session, Action.MANAGE_KEYS)
    period = grace_period(grace)
    _app(session, app_id)
    now = utcnow()
    async with uow:
        old = next((k for k in await uow.apps.keys_of(app_id) if k.id == key_id), None)
        if old is None or old.state(now) is not KeyState.ACTIVE:
            raise NotFound(KEY_NOT_FOUND)
        if await uow.apps.expire_key(app_id, key_id, now + period, active_only=True) is None:
            raise NotFound(KEY_NOT_FOUND)  # rotated or revoked meanwhile: the other change won
        key = await uow.apps.add_key(app_id, Environment(old.environment), now)
        await _audit(uow, session, "key.rotated", app_id, old.display_prefix,
                     {"new_key": key.display_prefix, "grace_hours": int(period.total_seconds() // 3600),
                      "environment": old.environment})  # fmt: skip
        await uow.commit()
    return key


async def revoke_key(uow: UnitOfWork, session: Session, app_id: str, key_id: str) -> str:
    """Stop a key at once (one in its grace period too); returns its display prefix."""
    _allow(session, Action.MANAGE_KEYS)
    _app(session, app_id)
    async with uow:
        old = next((k for k in await uow.apps.keys_of(app_id) if k.id == key_id), None)
        if old is None or await uow.apps.expire_key(app_id, key_id, utcnow()) is None:
            raise NotFound(KEY_NOT_FOUND)
        await _audit(uow, session, "key.revoked", app_id, old.display_prefix, {"environment": old.environment})
        await uow.commit()
    return old.display_prefix


# Webhook endpoints.


def _summary(row: Any, stats: dict[str, int]) -> EndpointSummary:
    delivered = stats.get("delivered", 0)
    failed = stats.get("failed", 0) + stats.get("retrying", 0)
    return EndpointSummary(
        id=row.id,
        url=row.url,
        environment=row.environment,
        events=None if row.event_types == "*" else row.event_types.split(","),
        is_enabled=bool(row.is_enabled),
        created_at=as_utc(row.created_at),
        delivered=delivered,
        failed=failed,
        pending=stats.get("pending", 0),
        success_rate=success_rate(delivered, delivered + failed),
    )


async def endpoints(uow: UnitOfWork, session: Session, app_id: str, environment: str) -> list[EndpointSummary]:
    """The app's endpoints in ``environment`` (disabled ones too), each with its last week's deliveries."""
    _app(session, app_id)
    env = _environment(environment).value
    async with uow.reading():
        rows = await uow.webhooks.list_endpoints(app_id, env)
        stats = await uow.webhooks.endpoint_stats(app_id, env, utcnow() - STATS_WINDOW)
    return [_summary(r, stats.get(r.id, {})) for r in rows]


async def add_endpoint(
    uow: UnitOfWork, settings: Settings, session: Session, app_id: str, environment: str, url: str,
    events: list[str],
) -> tuple[EndpointSummary, str]:  # fmt: skip
    """Register an endpoint for the chosen events (none chosen: every event) with a generated secret; returns
    it and the secret, to be shown once. The API's own rules check the URL (``ValidationFailed`` names it)."""
    _allow(session, Action.MANAGE_WEBHOOKS)
    _app(session, app_id)
    env = _environment(environment).value
    chosen = [e for e in WEBHOOK_EVENTS if e in events]  # an unknown name is no choice
    endpoint = validate_endpoint({"url": url, "events": chosen or None}, env, settings)
    async with uow:
        row = await uow.webhooks.create_endpoint(settings.secret, app_id, env, endpoint.url, endpoint.secret,
                                                 endpoint.events)  # fmt: skip
        await _audit(uow, session, "webhook.endpoint_added", app_id, row.id,
                     {"url": endpoint.url, "events": endpoint.events or "*", "environment": env})  # fmt: skip
        await uow.commit()
    return _summary(row, {}), endpoint.secret


async def disable_endpoint(uow: UnitOfWork, session: Session, app_id: str, environment: str, endpoint_id: str) -> None:
    """Stop every delivery to the endpoint (``NotFound`` unless it is the app's and enabled)."""
    _allow(session, Action.MANAGE_WEBHOOKS)
    _app(session, app_id)
    env = _environment(environment).value
    async with uow:
        await uow.webhooks.disable_endpoint(app_id, env, endpoint_id)
        await _audit(uow, session, "webhook.endpoint_disabled", app_id, endpoint_id, {"environment": env})
        await uow.commit()


async def send_test_event(uow: UnitOfWork, session: Session, app_id: str, environment: str, endpoint_id: str) -> str:
    """Queue a ``webhook.test`` event to this endpoint alone (the dispatcher signs and sends it, with retries);
    returns the event's id."""
    _allow(session, Action.MANAGE_WEBHOOKS)
    _app(session, app_id)
    env = _environment(environment).value
    async with uow:
        data = {"endpoint_id": endpoint_id, "environment": env, "sent_by": session.email,
                "created_at": utcnow().isoformat()}  # fmt: skip
        event_id = await uow.webhooks.send_test(app_id, env, endpoint_id, data)
        await _audit(uow, session, "webhook.test_sent", app_id, endpoint_id, {"event_id": event_id})
        await uow.commit()
    return event_id


# Email settings.


async def app_settings(uow: UnitOfWork, session: Session, app_id: str) -> App:
    _app(session, app_id)
    async with uow.reading():
        return await uow.apps.get(app_id)


async def update_emails(
    uow: UnitOfWork, session: Session, app_id: str, *, notify_email: str, send_receipts: bool, send_notices: bool,
    notify_failures: bool, language: str,
) -> App:  # fmt: skip
    """Set the app's receipts, notices (to whom, failures too) and their language; ``ValidationFailed`` names
    the field. The audit entry lists what changed, before and after."""
    _allow(session, Action.EDIT_EMAILS)
    _app(session, app_id)
    wanted: dict[str, object] = {
        "notify_email": checked_notify_email(notify_email),
        "send_receipts": send_receipts,
        "send_notices": send_notices,
        "notify_failures": notify_failures,
        "notice_language": notice_language(language),
    }
    async with uow:
        before = await uow.apps.get(app_id)
        changes = {k: v for k, v in wanted.items() if getattr(before, k) != v}
        app = await uow.apps.update(app_id, changes)
        if changes:
            details = {k: [getattr(before, k), v] for k, v in changes.items()}
            await _audit(uow, session, "app.emails_changed", app_id, app_id, details)
        await uow.commit()
    return app


# Provider accounts.


@dataclass(frozen=True, slots=True)
class ProviderRouting:
    """An app's enabled accounts of one environment, in routing order, and the order routing tries them in for
    each method they serve: methods with the same order together, as (labels in order, methods)."""

    accounts: list[ProviderAccountSummary]
    orders: list[tuple[list[str], list[str]]]


def _allow_providers(session: Session) -> None:
    if not may(session.role, Action.MANAGE_PROVIDERS):
        raise Forbidden("Your role does not allow this.")


def provider_kinds() -> dict[str, ProviderSpec]:
    """The providers whose connectors are installed: what an account of each needs typed in."""
    return provider_service.provider_specs()


async def provider_routing(uow: UnitOfWork, session: Session, app_id: str, environment: str) -> ProviderRouting:
    _app(session, app_id)
    accounts = await provider_service.list_accounts(uow, Scope(app_id, _environment(environment).value))
    # list_accounts answers in routing order (priority, then oldest first): each method keeps that order.
    orders: dict[tuple[str, ...], list[str]] = {}
    for method in sorted({m for a in accounts for m in a["methods"]}):
        orders.setdefault(tuple(a["label"] for a in accounts if method in a["methods"]), []).append(method)
    return ProviderRouting(accounts, [(list(labels), methods) for labels, methods in orders.items()])


async def add_provider_account(
    uow: UnitOfWork, settings: Settings, session: Session, app_id: str, environment: str, body: dict[str, Any]
) -> ProviderAccountSummary:
    """Add an account as ``POST /v1/providers`` does (the same rules, ``ValidationFailed`` naming the field; its
    credentials sealed with the server's secret, never returned)."""
    _allow_providers(session)
    _app(session, app_id)
    scope = Scope(app_id, _environment(environment).value)
    account = provider_service.check_account(body, scope.environment)

    async def audited(tx: UnitOfWork, summary: ProviderAccountSummary) -> None:
        details: dict[str, Any] = {k: summary[k] for k in ("provider", "label", "sandbox", "methods", "priority")}
        details["environment"] = scope.environment
        await _audit(tx, session, "provider.added", app_id, summary["id"], details)

    return await provider_service.add_account(uow, scope, account, settings.secret, also=audited)


async def remove_provider_account(
    uow: UnitOfWork, session: Session, app_id: str, environment: str, account_id: str
) -> None:
    """Routing stops using the account at once (``NotFound`` unless it is the app's, of ``environment`` and
    enabled); what already names it keeps reaching it, as ``DELETE /v1/providers/{id}`` does."""
    _allow_providers(session)
    _app(session, app_id)
    env = _environment(environment).value
    async with uow:
        label = next((r.label for r in await uow.providers.enabled(app_id, env) if r.id == account_id), None)
        await uow.providers.disable(app_id, env, account_id)
        await _audit(uow, session, "provider.removed", app_id, account_id, {"label": label, "environment": env})
        await uow.commit()


__all__ = ["ENDPOINT_NOT_FOUND", "KEY_NOT_FOUND", "EndpointSummary", "ProviderRouting"]
