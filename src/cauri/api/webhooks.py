"""``/v1/webhooks``: the app's webhook endpoints for the key's environment (create, list, delete)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate
from cauri.api.body import parse_json_object, read_body
from cauri.api.context import gateway_of
from cauri.api.envelope import EnvelopeResponse
from cauri.api.identifiers import path_id
from cauri.services import webhooks


async def create(request: Request) -> Response:
    owner = await authenticate(request)
    gateway = gateway_of(request)
    body = parse_json_object(await read_body(request, gateway.settings.max_body_bytes))
    endpoint = webhooks.validate_endpoint(body, owner.environment.value, gateway.settings)
    data = await webhooks.add_endpoint(gateway.uow(), owner.scope, endpoint, gateway.settings.secret)
    return EnvelopeResponse("Webhook endpoint created successfully", data, status_code=201)


async def list_all(request: Request) -> Response:
    owner = await authenticate(request)
    data = await webhooks.list_endpoints(gateway_of(request).uow(), owner.scope)
    return EnvelopeResponse("Webhook endpoints fetched successfully", data)


async def delete(request: Request) -> Response:
    owner = await authenticate(request)
    endpoint_id = path_id(request, "endpoint_id", webhooks.ENDPOINT_NOT_FOUND)
    await webhooks.delete_endpoint(gateway_of(request).uow(), owner.scope, endpoint_id)
    return EnvelopeResponse("Webhook endpoint deleted successfully", None)


routes = [
    Route("/v1/webhooks", create, methods=["POST"]),
    Route("/v1/webhooks", list_all, methods=["GET"]),
    Route("/v1/webhooks/{endpoint_id}", delete, methods=["DELETE"]),
]
