"""``/v1/providers`` (our extension): the app's accounts at real providers, for the key's environment (create,
list, delete). Credentials go in once and never come back out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate
from cauri.api.body import parse_json_object, read_body
from cauri.api.context import gateway_of
from cauri.api.envelope import EnvelopeResponse
from cauri.api.identifiers import path_id
from cauri.services import providers


async def create(request: Request) -> Response:
    owner = await authenticate(request)
    gateway = gateway_of(request)
    body = parse_json_object(await read_body(request, gateway.settings.max_body_bytes))
    account = providers.check_account(body, owner.environment.value)
    data = await providers.add_account(gateway.uow(), owner.scope, account, gateway.settings.secret)
    return EnvelopeResponse("Provider account created successfully", data, status_code=201)


async def list_all(request: Request) -> Response:
    owner = await authenticate(request)
    data = await providers.list_accounts(gateway_of(request).uow(), owner.scope)
    return EnvelopeResponse("Provider accounts fetched successfully", data)


async def delete(request: Request) -> Response:
    owner = await authenticate(request)
    account_id = path_id(request, "account_id", providers.ACCOUNT_NOT_FOUND)
    await providers.remove_account(gateway_of(request).uow(), owner.scope, account_id)
    return EnvelopeResponse("Provider account deleted successfully", None)


routes = [
    Route("/v1/providers", create, methods=["POST"]),
    Route("/v1/providers", list_all, methods=["GET"]),
    Route("/v1/providers/{account_id}", delete, methods=["DELETE"]),
]
