"""``GET /v1/balances`` (our extension): the key's app's balances, one per currency."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate
from cauri.api.context import gateway_of
from cauri.api.envelope import EnvelopeResponse
from cauri.services.balances import list_balances

FETCHED = "Balances fetched successfully"


async def list_all(request: Request) -> Response:
    owner = await authenticate(request)
    return EnvelopeResponse(FETCHED, await list_balances(gateway_of(request).uow(), owner.scope))


routes = [Route("/v1/balances", list_all, methods=["GET"])]
