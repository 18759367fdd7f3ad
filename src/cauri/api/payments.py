"""``/v1/payments``: initialize, verify, retrieve, process and list."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri import metrics
from cauri.api.auth import authenticate
from cauri.api.body import parse_json_object, read_body
from cauri.api.context import Gateway, gateway_of
from cauri.api.envelope import EnvelopeResponse, RawJSONResponse, envelope_bytes
from cauri.api.errors import ApiError
from cauri.api.listing import next_cursor, parse_list_query
from cauri.domain.errors import NotFound
from cauri.domain.payment_request import validate_payment_request
from cauri.domain.representation import app_object, payment_object
from cauri.store.apps import KeyOwner
from cauri.store.clock import iso, utcnow
from cauri.store.idempotency import KEY_MAX, StoredResponse, request_fingerprint, run_once
from cauri.store.initialize import create_payment
from cauri.store.payments import (
    NOT_FOUND,
    Scope,
    get_payment,
    list_payments,
    mark_processed,
    new_payment_row,
)
from cauri.store.views import payment_views

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


_PAYMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{KEY_MAX}}}")


def _scope(owner: KeyOwner) -> Scope:
    return Scope(owner.app.id, owner.environment.value)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip().strip('"')  # the IETF draft sends it as a quoted string; clients send both
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(400, f"The Idempotency-Key header must be 1 to {KEY_MAX} printable ASCII characters.")
    return key


def _payment_id(request: Request) -> str:
    payment_id: str = request.path_params["payment_id"]
    if not _PAYMENT_ID.fullmatch(payment_id):
        raise NotFound(NOT_FOUND)
    return payment_id


def _answer(result: StoredResponse) -> Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return RawJSONResponse(result.body, status_code=result.status, headers=headers)


def _payment_data(gateway: Gateway, owner: KeyOwner, payment: Any) -> dict[str, Any]:
    return payment_object(
        payment, app_object(owner.app, iso), checkout_url=gateway.checkout_url(payment["id"]), iso=iso
    )


async def initialize(request: Request) -> Response:
    started = time.perf_counter()
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    raw = await read_body(request, gateway.settings.max_body_bytes)
    body = parse_json_object(raw)
    payment = validate_payment_request(body)
    key = _idempotency_key(request)
    scope = _scope(owner)
    now = utcnow()
    row = new_payment_row(payment, scope, now)
    checkout_url = gateway.checkout_url(row["id"])
    answer = envelope_bytes(INITIALIZED, {"id": row["id"], "checkout_url": checkout_url})

    fingerprint = request_fingerprint("POST", request.scope["path"], orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    result = await create_payment(
        gateway.engine,
        scope,
        row,
        _payment_data(gateway, owner, row),
        StoredResponse(201, answer),
        key=key,
        fingerprint=fingerprint,
        ttl=timedelta(hours=gateway.settings.idempotency_ttl_hours),
    )
    metrics.observe_initialize(time.perf_counter() - started)
    return _answer(result)


async def verify(request: Request) -> Response:
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    payment_id = _payment_id(request)
    async with gateway.reader.connect() as conn:
        row = await get_payment(conn, payment_id, _scope(owner))
        views = await payment_views(conn, [row._mapping], public_url=gateway.public_url, app=owner.app)
    return EnvelopeResponse(FETCHED, views[0])


async def process(request: Request) -> Response:
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    payment_id = _payment_id(request)
    await read_body(request, gateway.settings.max_body_bytes)  # ignored: the PHP SDK sends [] or nothing
    key = _idempotency_key(request)
    scope = _scope(owner)

    async def work(conn: AsyncConnection) -> StoredResponse:
        row = await mark_processed(conn, payment_id, scope)
        views = await payment_views(conn, [row._mapping], public_url=gateway.public_url, app=owner.app)
        return StoredResponse(200, envelope_bytes(PROCESSED, views[0]))

    fingerprint = request_fingerprint("POST", request.scope["path"], b"")
    ttl = timedelta(hours=gateway.settings.idempotency_ttl_hours)
    return _answer(await run_once(gateway.engine, scope, key, fingerprint, ttl, work))


async def list_all(request: Request) -> Response:
    gateway = gateway_of(request)
    owner = await authenticate(request, gateway.reader, gateway.keys, gateway.limiter)
    query = parse_list_query(request.query_params.multi_items())
    async with gateway.reader.connect() as conn:
        rows = await list_payments(conn, _scope(owner), query.where, limit=query.limit, after=query.after)
        page = rows[: query.limit]
        views = await payment_views(conn, [r._mapping for r in page], public_url=gateway.public_url, app=owner.app)
    has_more = len(rows) > query.limit
    return EnvelopeResponse(
        LISTED,
        views,
        meta={
            "limit": query.limit,
            "has_more": has_more,
            "next_cursor": next_cursor(page[-1]) if has_more and page else None,
        },
    )


routes = [
    Route("/v1/payments/initialize", initialize, methods=["POST"]),
    Route("/v1/payments", list_all, methods=["GET"]),
    Route("/v1/payments/{payment_id:payment_id}/verify", verify, methods=["GET"]),
    Route("/v1/payments/{payment_id:payment_id}/process", process, methods=["POST"]),
    Route("/v1/payments/{payment_id:payment_id}", verify, methods=["GET"]),
]
