"""Baseline (a), the practical limit: Starlette + asyncpg, parse the body, insert one row, answer JSON.

No validation, no auth, no idempotency, no event: what any initialize endpoint costs at the least here.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN = os.environ["BENCH_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
INSERT = "INSERT INTO bench_payments (id, amount, currency, description, body) VALUES ($1, $2, $3, $4, $5::jsonb)"
pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(DSN, min_size=16, max_size=16)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_payments (id text PRIMARY KEY, amount bigint, currency text, "
        "description text, body jsonb, created_at timestamptz DEFAULT now())"
    )
    yield
    await pool.close()


async def initialize(request: Request) -> Response:
    raw = await request.body()
    body = orjson.loads(raw)
    payment_id = "py_" + secrets.token_hex(8)
    assert pool is not None
    await pool.execute(INSERT, payment_id, int(body["amount"]), body["currency"], body["description"], raw.decode())
    answer = {
        "message": "Transaction initialized successfully",
        "data": {"id": payment_id, "checkout_url": f"http://127.0.0.1/checkout/{payment_id}"},
    }
    return Response(orjson.dumps(answer), status_code=201, media_type="application/json")


app = Starlette(routes=[Route("/v1/payments/initialize", initialize, methods=["POST"])], lifespan=lifespan)
