"""``POST /v1/payments/{id}/refund`` (our extension, in Moneroo's style), and
``/connectors/{name}/refunds/callback``, where providers' refund notifications arrive."""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate
from cauri.api.body import parse_json_object, read_body
from cauri.api.context import gateway_of
from cauri.api.envelope import envelope_bytes
from cauri.api.identifiers import path_id
from cauri.api.notifications import receive
from cauri.api.payments import _answer, _idempotency
from cauri.domain.refunds import validate_refund_request
from cauri.domain.representation import Refund
from cauri.services.idempotency import StoredResponse
from cauri.services.payments import NOT_FOUND
from cauri.services.refunds import handle_refund_callback, refund_payment

log = logging.getLogger("cauri.api.refunds")
INITIATED = "Refund initiated successfully"


async def refund(request: Request) -> Response:
    owner = await authenticate(request)
    gateway = gateway_of(request)
    payment_id = path_id(request, "payment_id", NOT_FOUND)
    raw = await read_body(request, gateway.settings.max_body_bytes)
    body = {} if raw.strip() == b"[]" else parse_json_object(raw)  # PHP clients send [] for "no fields"
    asked = validate_refund_request(body)
    idempotency = _idempotency(request, orjson.dumps(body, option=orjson.OPT_SORT_KEYS))

    def render(created: Refund) -> StoredResponse:
        return StoredResponse(201, envelope_bytes(INITIATED, created))

    result = await refund_payment(gateway.uow(), gateway.runtime.connectors, owner.scope, payment_id, asked, render,
                                  idempotency, gateway.runtime.callbacks)  # fmt: skip
    return _answer(result)


async def connector_callback(request: Request) -> Response:
    """A provider's refund notification: authenticated by the connector, applied once by the state machine."""
    return await receive(request, handle_refund_callback, "refund notification", log)


routes = [
    Route("/v1/payments/{payment_id:payment_id}/refund", refund, methods=["POST"]),
    Route("/connectors/{connector}/refunds/callback", connector_callback, methods=["POST"]),
]
