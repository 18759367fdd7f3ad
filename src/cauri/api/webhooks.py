"""``/v1/webhooks``: the app's webhook endpoints for the key's environment (create, list, delete)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate
from cauri.api.body import parse_json_object, read_body
from cauri.api.context import gateway_of
from cauri.api.envelope import EnvelopeResponse
from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.domain.webhooks import PAYMENT_EVENTS, is_public_address, new_secret
from cauri.settings import Settings
from cauri.store.clock import iso
from cauri.store.webhooks import create_endpoint, disable_endpoint, list_endpoints


def endpoint_object(row: Row[Any], secret: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "url": row.url,
        "events": None if row.event_types == "*" else row.event_types.split(","),
        "environment": row.environment,
        "is_enabled": row.is_enabled,
        "created_at": iso(row.created_at),
    }
    if secret is not None:
        data["secret"] = secret  # shown once, at creation
    return data


def validate_endpoint(body: dict[str, Any], environment: str, settings: Settings) -> tuple[str, str, list[str] | None]:
    """The URL (http(s); for live apps, not resolving to loopback/private/link-local addresses unless
    allowed), the secret (typed by the merchant, as on Moneroo, or generated) and the events."""
    errors = FieldErrors()
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        errors.add("url", "The url field is required.")
        url = ""
    else:
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
            errors.add("url", "The url field must be a valid URL starting with http:// or https://.")
        elif environment == "live" and not settings.webhooks_allow_private and not _public(parts.hostname):
            errors.add("url", "Live webhooks cannot target loopback, private or link-local addresses.")
    secret = body.get("secret")
    if secret is None:
        secret = new_secret()
    elif not isinstance(secret, str) or not 16 <= len(secret) <= 200:
        errors.add("secret", "The secret field must be a string of 16 to 200 characters.")
        secret = ""
    kinds = body.get("events")
    if kinds is not None and (not isinstance(kinds, list) or not kinds or any(k not in PAYMENT_EVENTS for k in kinds)):
        errors.add("events", f"The events field must be a list of: {', '.join(PAYMENT_EVENTS)}.")
    if errors:
        raise ValidationFailed(errors)
    return url, secret, kinds


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


async def create(request: Request) -> Response:
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    body = parse_json_object(await read_body(request, gateway.settings.max_body_bytes))
    url, secret, kinds = validate_endpoint(body, owner.environment.value, gateway.settings)
    row = await create_endpoint(gateway.engine, gateway.settings.secret, owner.app.id, owner.environment.value,
                                url, secret, kinds)  # fmt: skip
    return EnvelopeResponse("Webhook endpoint created successfully", endpoint_object(row, secret), status_code=201)


async def list_all(request: Request) -> Response:
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    rows = await list_endpoints(gateway.engine, owner.app.id, owner.environment.value)
    return EnvelopeResponse(
        "Webhook endpoints fetched successfully", [endpoint_object(r) for r in rows if r.is_enabled]
    )


async def delete(request: Request) -> Response:
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    await disable_endpoint(gateway.engine, owner.app.id, owner.environment.value, request.path_params["endpoint_id"])
    return EnvelopeResponse("Webhook endpoint deleted successfully", None)


routes = [
    Route("/v1/webhooks", create, methods=["POST"]),
    Route("/v1/webhooks", list_all, methods=["GET"]),
    Route("/v1/webhooks/{endpoint_id}", delete, methods=["DELETE"]),
]
