"""``/v1/rates`` (our extension): the exchange rates the gateway converts with, the legal pegs first; listed for
any app's key, set by the gateway's operator."""

from __future__ import annotations

import logging
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate, authenticate_operator
from cauri.api.body import parse_json_object, read_body
from cauri.api.context import gateway_of
from cauri.api.envelope import EnvelopeResponse
from cauri.api.forwarded import client_address
from cauri.services.rates import ListedRate, list_rates, rate_json, set_rate

log = logging.getLogger("cauri.rates")
FETCHED = "Rates fetched successfully"
SET = "Rate set successfully"


async def list_all(request: Request) -> Response:
    await authenticate(request)  # rates are the gateway's, the same for every app; a key is still required
    gateway = gateway_of(request)
    max_age = timedelta(hours=gateway.settings.rate_max_age_hours)
    return EnvelopeResponse(FETCHED, [rate_json(r) for r in await list_rates(gateway.uow(), max_age)])


async def put_one(request: Request) -> Response:
    """Set the operator's rate of a pair, as ``cauri rates set BASE QUOTE RATE`` does. The rate is a string of
    digits (``"1550.25"``): a JSON number would reach us as a float, and rates are exact decimals."""
    authenticate_operator(request)
    gateway = gateway_of(request)
    body = parse_json_object(await read_body(request, gateway.settings.max_body_bytes))
    base, quote = request.path_params["base"], request.path_params["quote"]
    rate = await set_rate(gateway.uow(), base, quote, body.get("rate"))
    listed = rate_json(ListedRate(rate, fresh=True))
    # Every app's prices move with it: said in the log with where it came from (the CLI's changes are the shell's).
    where = {"base": rate.base, "quote": rate.quote, "rate": listed["rate"], "client": client_address(request)}
    log.warning("operator rate set over the API", extra=where)
    return EnvelopeResponse(SET, listed)


routes = [
    Route("/v1/rates", list_all, methods=["GET"]),
    Route("/v1/rates/{base}/{quote}", put_one, methods=["PUT"]),
]
