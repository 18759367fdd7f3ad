"""Baseline (c), SQLite's practical limit: Starlette + the standard ``sqlite3`` module in WAL mode, parse the
body, insert one row, answer JSON.

One connection used directly on the event loop (a commit in WAL mode with ``synchronous=NORMAL`` writes to the
log without an fsync, tens of microseconds): no validation, no auth, no idempotency, no event.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH = os.environ["BENCH_DATABASE_URL"].removeprefix("sqlite:///")
INSERT = "INSERT INTO bench_payments (id, amount, currency, description, body) VALUES (?, ?, ?, ?, ?)"
db: sqlite3.Connection | None = None


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    global db
    db = sqlite3.connect(PATH, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS bench_payments (id text PRIMARY KEY, amount integer, currency text, "
        "description text, body text, created_at text DEFAULT CURRENT_TIMESTAMP)"
    )
    yield
    db.close()


async def initialize(request: Request) -> Response:
    raw = await request.body()
    body = orjson.loads(raw)
    payment_id = "py_" + secrets.token_hex(8)
    assert db is not None
    db.execute(INSERT, (payment_id, int(body["amount"]), body["currency"], body["description"], raw.decode()))
    answer = {
        "message": "Transaction initialized successfully",
        "data": {"id": payment_id, "checkout_url": f"http://127.0.0.1/checkout/{payment_id}"},
    }
    return Response(orjson.dumps(answer), status_code=201, media_type="application/json")


app = Starlette(routes=[Route("/v1/payments/initialize", initialize, methods=["POST"])], lifespan=lifespan)
