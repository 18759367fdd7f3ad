"""``/v1/events``: what happened, what was delivered, and resending (Cauri's addition to Moneroo's API)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate
from cauri.api.context import gateway_of
from cauri.api.envelope import EnvelopeResponse
from cauri.api.identifiers import path_id, query_id
from cauri.domain.errors import FieldErrors, ValidationFailed
from cauri.services import webhooks


async def list_all(request: Request) -> Response:
    owner = await authenticate(request)
    raw_limit = request.query_params.get("limit", "20")
    # At most 3 digits before int(): Python refuses to convert a string of thousands of digits (a 500).
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 3 and 1 <= int(raw_limit) <= 100):
        errors = FieldErrors()
        errors.add("limit", "The limit field must be an integer between 1 and 100.")
        raise ValidationFailed(errors)
    rows = await webhooks.list_events(gateway_of(request).uow(), owner.scope, limit=int(raw_limit),
                                      before=query_id(request.query_params.get("before"), "before"))  # fmt: skip
    return EnvelopeResponse("Events fetched successfully", rows)


async def resend(request: Request) -> Response:
    owner = await authenticate(request)
    event_id = path_id(request, "event_id", "Event not found.")
    due = await webhooks.resend_event(gateway_of(request).uow(), owner.scope, event_id)
    return EnvelopeResponse("Event scheduled for delivery", {"id": event_id, "deliveries": due})


async def delivery(request: Request) -> Response:
    owner = await authenticate(request)
    delivery_id = path_id(request, "delivery_id", "Delivery not found.")
    data = await webhooks.get_delivery(gateway_of(request).uow(), owner.scope, delivery_id)
    return EnvelopeResponse("Delivery fetched successfully", data)


routes = [
    Route("/v1/events", list_all, methods=["GET"]),
    Route("/v1/events/{event_id}/resend", resend, methods=["POST"]),
    Route("/v1/deliveries/{delivery_id}", delivery, methods=["GET"]),
]
