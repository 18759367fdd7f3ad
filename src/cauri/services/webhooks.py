"""Webhook endpoints, events and their deliveries: what merchants manage, and what dispatchers send."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

from cauri.domain.apps import Scope
from cauri.domain.clock import iso
from cauri.domain.errors import FieldErrors, NotFound, ValidationFailed
from cauri.domain.representation import Delivery, Event, WebhookEndpoint, delivery_object, endpoint_object, event_object
from cauri.domain.text import has_control_characters
from cauri.domain.webhooks import WEBHOOK_EVENTS, is_public_address, new_secret, secret_problem
from cauri.services.runtime import UnitOfWork
from cauri.settings import Settings
from cauri.store.emails import EmailClaim
from cauri.store.sealing import unseal
from cauri.store.webhooks import ENDPOINT_NOT_FOUND, Claim, TryResult

__all__ = ["ENDPOINT_NOT_FOUND", "Claim", "EmailClaim", "NewEndpoint", "TryResult"]


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    url: str
    secret: str  # typed by the merchant (as on Moneroo) or generated; shown once
    events: list[str] | None  # None: every event


def validate_endpoint(body: dict[str, Any], environment: str, settings: Settings) -> NewEndpoint:
    """The URL (http(s); for live apps, not resolving to loopback/private/link-local addresses unless
    allowed), the secret and the events."""
    errors = FieldErrors()
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        errors.add("url", "The url field is required.")
        url = ""
    else:
        url = url.strip()
        parts = _url_parts(url)
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
            errors.add("url", "The url field must be a valid URL starting with http:// or https://.")
        elif environment == "live" and not settings.webhooks_allow_private and not _public(parts.hostname):
            errors.add("url", "Live webhooks cannot target loopback, private or link-local addresses.")
    secret = body.get("secret")
    if secret is None:
        secret = new_secret()
    elif not isinstance(secret, str) or not 16 <= len(secret) <= 200:
        errors.add("secret", "The secret field must be a string of 16 to 200 characters.")
        secret = ""
    elif has_control_characters(secret):
        errors.add("secret", "The secret field must not contain control characters.")
        secret = ""
    elif (problem := secret_problem(secret)) is not None:
        errors.add("secret", f"The secret field {problem}.")
    kinds = body.get("events")
    if kinds is not None and (not isinstance(kinds, list) or not kinds or any(k not in WEBHOOK_EVENTS for k in kinds)):
        errors.add("events", f"The events field must be a list of: {', '.join(WEBHOOK_EVENTS)}.")
    if errors:
        raise ValidationFailed(errors)
    return NewEndpoint(url, secret, kinds)


def _url_parts(url: str) -> SplitResult | None:
    """``url``'s parts, or None for one no HTTP client could send to: control characters, spaces, a port
    that is no port, an unclosed IPv6 bracket."""
    if has_control_characters(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError:
        return None
    return parts


def _public(host: str) -> bool:
    try:
        return is_public_address(str(ipaddress.ip_address(host)))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return all(is_public_address(str(info[4][0])) for info in infos)


async def add_endpoint(uow: UnitOfWork, scope: Scope, endpoint: NewEndpoint, master: bytes) -> WebhookEndpoint:
    """Register an endpoint (at most ``MAX_ENDPOINTS`` per app and environment); its object, secret included."""
    async with uow:
        row = await uow.webhooks.create_endpoint(
            master, scope.app_id, scope.environment, endpoint.url, endpoint.secret, endpoint.events
        )
        await uow.commit()
    return endpoint_object(row._mapping, iso, endpoint.secret)


async def list_endpoints(uow: UnitOfWork, scope: Scope) -> list[WebhookEndpoint]:
    async with uow.reading():
        rows = await uow.webhooks.list_endpoints(scope.app_id, scope.environment)
    return [endpoint_object(r._mapping, iso) for r in rows if r.is_enabled]


async def delete_endpoint(uow: UnitOfWork, scope: Scope, endpoint_id: str) -> None:
    """Deleting keeps the row (its deliveries refer to it) but stops every delivery to it."""
    async with uow:
        await uow.webhooks.disable_endpoint(scope.app_id, scope.environment, endpoint_id)
        await uow.commit()


async def list_events(uow: UnitOfWork, scope: Scope, *, limit: int, before: str | None) -> list[Event]:
    """Newest first, each with its deliveries' states (``before``: the last event id of the previous page)."""
    async with uow.reading():
        rows = await uow.webhooks.list_events(scope.app_id, scope.environment, limit=limit, before=before)
    return [event_object(row, row["deliveries"], iso) for row in rows]


async def resend_event(uow: UnitOfWork, scope: Scope, event_id: str) -> int:
    """Send an event again to every endpoint that owes or owed it; returns how many deliveries are due."""
    async with uow:
        due = await uow.webhooks.resend_event(scope.app_id, scope.environment, event_id)
        await uow.commit()
    return due


async def get_delivery(uow: UnitOfWork, scope: Scope, delivery_id: str) -> Delivery:
    """A delivery with every try (status, latency, the answer's first KB)."""
    async with uow.reading():
        row = await uow.webhooks.delivery(scope.app_id, scope.environment, delivery_id)
        if row is None:
            raise NotFound("Delivery not found.")
        tries = await uow.webhooks.delivery_history(delivery_id)
    return delivery_object(row._mapping, [t._mapping for t in tries], iso)


async def claim_deliveries(
    uow: UnitOfWork,
    lease_until: datetime,
    limit: int,
    *,
    per_endpoint: int | None = None,
    busy: Mapping[str, int] | None = None,
    finished: Sequence[TryResult] = (),
) -> list[Claim]:
    """Due deliveries for this dispatcher until ``lease_until`` (a dead dispatcher's claims return then): at
    most ``per_endpoint`` per endpoint, counting the ``busy`` ones (endpoint id -> deliveries) it is sending.
    The ``finished`` tries are recorded first, in the same transaction (one commit where there were two)."""
    async with uow:
        if finished:
            await uow.webhooks.record_attempts(list(finished))
        claims = await uow.webhooks.claim_due(lease_until, limit, per_endpoint=per_endpoint, busy=busy)
        await uow.commit()
    return claims


async def record_tries(uow: UnitOfWork, results: list[TryResult]) -> None:
    """Record a batch of tries and their consequences (retry, give up, disable a dead endpoint)."""
    if not results:
        return
    async with uow:
        await uow.webhooks.record_attempts(results)
        await uow.commit()


async def claim_emails(uow: UnitOfWork, lease_until: datetime, limit: int) -> list[EmailClaim]:
    async with uow:
        claims = await uow.emails.claim_emails(lease_until, limit)
        await uow.commit()
    return claims


async def record_email(
    uow: UnitOfWork, claim: EmailClaim, *, error: str | None, next_attempt_at: datetime | None
) -> None:
    async with uow:
        await uow.emails.record_email(claim, error=error, next_attempt_at=next_attempt_at)
        await uow.commit()


def unseal_secret(master: bytes, claim: Claim) -> str:
    """The endpoint's signing secret, kept sealed at rest."""
    return unseal(master, claim.secret_encrypted)
