"""``GET /v1/rates`` (our extension): the exchange rates the gateway converts with, the legal pegs first."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate
from cauri.api.context import gateway_of
from cauri.api.envelope import EnvelopeResponse
from cauri.services.rates import list_rates, rate_json

FETCHED = "Rates fetched successfully"


async def list_all(request: Request) -> Response:
    await authenticate(request)  # rates are the gateway's, the same for every app; a key is still required
    gateway = gateway_of(request)
    max_age = timedelta(hours=gateway.settings.rate_max_age_hours)
    return EnvelopeResponse(FETCHED, [rate_json(r) for r in await list_rates(gateway.uow(), max_age)])


routes = [Route("/v1/rates", list_all, methods=["GET"])]
