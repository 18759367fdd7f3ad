"""``/v1/events``: what happened, what was delivered, and resending (Cauri's addition to Moneroo's API)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate
from cauri.api.context import gateway_of
from cauri.api.envelope import EnvelopeResponse
from cauri.domain.errors import FieldErrors, NotFound, ValidationFailed
from cauri.store.clock import iso
from cauri.store.tables import deliveries, webhook_endpoints
from cauri.store.webhooks import delivery_history, list_events, resend_event


async def list_all(request: Request) -> Response:
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    raw_limit = request.query_params.get("limit", "20")
    if not (raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= 100):
        errors = FieldErrors()
        errors.add("limit", "The limit field must be an integer between 1 and 100.")
        raise ValidationFailed(errors)
    rows = await list_events(gateway.engine, owner.app.id, owner.environment.value, limit=int(raw_limit),
                             before=request.query_params.get("before"))  # fmt: skip
    for row in rows:
        row["created_at"] = iso(row["created_at"])
    return EnvelopeResponse("Events fetched successfully", rows)


async def resend(request: Request) -> Response:
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    due = await resend_event(gateway.engine, owner.app.id, owner.environment.value, request.path_params["event_id"])
    return EnvelopeResponse("Event scheduled for delivery", {"id": request.path_params["event_id"], "deliveries": due})


async def delivery(request: Request) -> Response:
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    delivery_id = request.path_params["delivery_id"]
    async with gateway.engine.connect() as conn:
        row = (
            await conn.execute(
                deliveries.select()
                .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
                .where(
                    deliveries.c.id == delivery_id,
                    webhook_endpoints.c.app_id == owner.app.id,
                    webhook_endpoints.c.environment == owner.environment.value,
                )
            )
        ).one_or_none()
    if row is None:
        raise NotFound("Delivery not found.")
    attempts = [
        {
            "attempted_at": iso(a.attempted_at),
            "status_code": a.status_code,
            "latency_ms": a.latency_ms,
            "response_excerpt": a.response_excerpt,
            "error": a.error,
        }
        for a in await delivery_history(gateway.engine, delivery_id)
    ]
    data = {
        "id": row.id, "event_id": row.event_id, "endpoint_id": row.endpoint_id, "status": row.status,
        "attempts": row.attempts, "next_attempt_at": iso(row.next_attempt_at), "delivered_at": iso(row.delivered_at),
        "tries": attempts,
    }  # fmt: skip
    return EnvelopeResponse("Delivery fetched successfully", data)


routes = [
    Route("/v1/events", list_all, methods=["GET"]),
    Route("/v1/events/{event_id}/resend", resend, methods=["POST"]),
    Route("/v1/deliveries/{delivery_id}", delivery, methods=["GET"]),
]
