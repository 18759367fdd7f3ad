"""``/v1/payments``: initialize, verify, retrieve, process and list."""

from __future__ import annotations

import re
from datetime import timedelta

import orjson
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from cauri.api.auth import authenticate
from cauri.api.body import parse_json_object, read_body
from cauri.api.context import Gateway, gateway_of
from cauri.api.envelope import EnvelopeResponse, RawJSONResponse, envelope_bytes, send_json
from cauri.api.errors import ApiError
from cauri.api.identifiers import path_id
from cauri.api.listing import next_cursor, parse_list_query
from cauri.domain.payment_request import validate_payment_request
from cauri.domain.representation import Payment
from cauri.services.idempotency import KEY_MAX, IdempotencyKey, StoredResponse, request_fingerprint
from cauri.services.payments import (
    NOT_FOUND,
    initialize_payment,
    list_payments,
    process_payment,
    verify_payment,
)

INITIALIZED = "Transaction initialized successfully"
FETCHED = "Payment transaction fetched successfully!"
PROCESSED = "Payment transaction marked as processed successfully!"
LISTED = "Payment transactions fetched successfully!"


class PaymentIdConvertor(Convertor[str]):
    """A payment id; never ``initialize``, so ``GET /v1/payments/initialize`` is a 405, not a lookup."""

    regex = r"(?!initialize(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("payment_id", PaymentIdConvertor())


_IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{KEY_MAX}}}")


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip().strip('"')  # the IETF draft sends it as a quoted string; clients send both
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(400, f"The Idempotency-Key header must be 1 to {KEY_MAX} printable ASCII characters.")
    return key


def _payment_id(request: Request) -> str:
    return path_id(request, "payment_id", NOT_FOUND)


_REPLAYED = (b"idempotent-replayed", b"true")


def _answer(result: StoredResponse) -> Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return RawJSONResponse(result.body, status_code=result.status, headers=headers)


def _idempotency(request: Request, body: bytes, gateway: Gateway | None = None) -> IdempotencyKey | None:
    key = _idempotency_key(request)
    if key is None:
        return None
    ttl = timedelta(hours=(gateway or gateway_of(request)).settings.idempotency_ttl_hours)
    return IdempotencyKey(key, request_fingerprint("POST", request.scope["path"], body), ttl)


class Initialize:
    """``POST /v1/payments/initialize``, the hot path, as a plain ASGI app: no Response object nor the route's
    own exception wrapper per call (+5 % throughput). What it raises reaches the app's exception handlers
    as any handler's errors do, and the middleware (request log, security headers) sees its answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        gateway = gateway_of(request)
        settings = gateway.settings
        owner = await authenticate(request, gateway)
        body = parse_json_object(await read_body(request, settings.max_body_bytes, settings.body_timeout_seconds))
        payment = validate_payment_request(body)
        idempotency = _idempotency(request, orjson.dumps(body, option=orjson.OPT_SORT_KEYS), gateway)

        def render(payment_id: str, checkout_url: str) -> StoredResponse:
            return StoredResponse(201, envelope_bytes(INITIALIZED, {"id": payment_id, "checkout_url": checkout_url}))

        result = await initialize_payment(gateway.uow(), owner, payment, render, idempotency)
        await send_json(send, result.status, result.body, [_REPLAYED] if result.replayed else None)


async def verify(request: Request) -> Response:
    owner = await authenticate(request)
    return EnvelopeResponse(FETCHED, await verify_payment(gateway_of(request).uow(), owner, _payment_id(request)))


async def process(request: Request) -> Response:
    owner = await authenticate(request)
    gateway = gateway_of(request)
    payment_id = _payment_id(request)
    await read_body(request, gateway.settings.max_body_bytes)  # ignored: the PHP SDK sends [] or nothing

    def render(payment: Payment) -> StoredResponse:
        return StoredResponse(200, envelope_bytes(PROCESSED, payment))

    return _answer(await process_payment(gateway.uow(), owner, payment_id, render, _idempotency(request, b"")))


async def list_all(request: Request) -> Response:
    owner = await authenticate(request)
    query = parse_list_query(request.query_params.multi_items())
    page = await list_payments(gateway_of(request).uow(), owner, query.where, limit=query.limit, after=query.after)
    meta = {
        "limit": query.limit,
        "has_more": page.has_more,
        "next_cursor": next_cursor(*page.last) if page.last else None,
    }
    return EnvelopeResponse(LISTED, page.payments, meta=meta)


#: Served through the hot path's own door (``hot_path.py``), as well as listed in ``routes``.
HOT_ROUTES = [Route("/v1/payments/initialize", Initialize(), methods=["POST"])]
routes = [
    *HOT_ROUTES,
    Route("/v1/payments", list_all, methods=["GET"]),
    Route("/v1/payments/{payment_id:payment_id}/verify", verify, methods=["GET"]),
    Route("/v1/payments/{payment_id:payment_id}/process", process, methods=["POST"]),
    Route("/v1/payments/{payment_id:payment_id}", verify, methods=["GET"]),
]
