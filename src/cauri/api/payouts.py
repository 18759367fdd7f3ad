"""``/v1/payouts``: initialize, verify, retrieve and list (Moneroo's payout API, and a list like payments');
and ``/connectors/{name}/payouts/callback``, where providers' payout notifications arrive."""

from __future__ import annotations

import logging

import orjson
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.api.auth import authenticate
from cauri.api.body import parse_json_object, read_body
from cauri.api.context import gateway_of
from cauri.api.envelope import EnvelopeResponse, envelope_bytes
from cauri.api.identifiers import path_id
from cauri.api.listing import next_cursor, parse_list_query
from cauri.api.notifications import receive
from cauri.api.payments import _answer, _idempotency
from cauri.domain.payments import Environment
from cauri.domain.payout_request import validate_payout_request
from cauri.domain.payouts import PAYOUT_NOT_FOUND, PayoutStatus
from cauri.services.idempotency import StoredResponse
from cauri.services.payouts import (
    handle_payout_callback,
    initialize_payout,
    list_payouts,
    verify_payout,
)

log = logging.getLogger("cauri.api.payouts")
INITIALIZED = "Payout transaction initialized successfully"
FETCHED = "Payout transaction fetched successfully"
LISTED = "Payout transactions fetched successfully"


class PayoutIdConvertor(Convertor[str]):
    """A payout id; never ``initialize``, so ``GET /v1/payouts/initialize`` is a 405, not a lookup."""

    regex = r"(?!initialize(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("payout_id", PayoutIdConvertor())


async def initialize(request: Request) -> Response:
    owner = await authenticate(request)
    gateway = gateway_of(request)
    body = parse_json_object(await read_body(request, gateway.settings.max_body_bytes))
    payout = validate_payout_request(body, sandbox=owner.environment is Environment.SANDBOX)
    idempotency = _idempotency(request, orjson.dumps(body, option=orjson.OPT_SORT_KEYS))

    def render(payout_id: str) -> StoredResponse:
        return StoredResponse(201, envelope_bytes(INITIALIZED, {"id": payout_id}))

    result = await initialize_payout(gateway.uow(), gateway.runtime.connectors, owner.scope, payout, render,
                                     idempotency, gateway.runtime.callbacks)  # fmt: skip
    return _answer(result)


async def verify(request: Request) -> Response:
    owner = await authenticate(request)
    payout_id = path_id(request, "payout_id", PAYOUT_NOT_FOUND)
    return EnvelopeResponse(FETCHED, await verify_payout(gateway_of(request).uow(), owner.scope, payout_id,
                                                         app=owner.app))  # fmt: skip


async def list_all(request: Request) -> Response:
    owner = await authenticate(request)
    query = parse_list_query(request.query_params.multi_items(), tuple(PayoutStatus))
    page = await list_payouts(gateway_of(request).uow(), owner.scope, query.where, limit=query.limit,
                              after=query.after, app=owner.app)  # fmt: skip
    meta = {
        "limit": query.limit,
        "has_more": page.has_more,
        "next_cursor": next_cursor(*page.last) if page.last else None,
    }
    return EnvelopeResponse(LISTED, page.payouts, meta=meta)


async def connector_callback(request: Request) -> Response:
    """A provider's payout notification: authenticated by the connector, applied once by the state machine."""
    return await receive(request, handle_payout_callback, "payout notification", log)


routes = [
    Route("/v1/payouts/initialize", initialize, methods=["POST"]),
    Route("/v1/payouts", list_all, methods=["GET"]),
    Route("/v1/payouts/{payout_id:payout_id}/verify", verify, methods=["GET"]),
    Route("/v1/payouts/{payout_id:payout_id}", verify, methods=["GET"]),
    Route("/connectors/{connector}/payouts/callback", connector_callback, methods=["POST"]),
]
