"""Writing a new payment: the row, its ``payment.initiated`` event and its idempotency record, atomically.

On PostgreSQL the inserts (the event's webhook deliveries too) travel as one statement (data-modifying
CTEs) on the driver's connection, and the statements of the payments started in one turn of the event loop
(and the next) go together as one ``executemany`` (``pg_group.py``): one round trip and one commit a group,
instead of five round trips (BEGIN, three INSERTs, COMMIT) a payment. A group is one transaction, so a
payment's rows all commit or none do.

On SQLite the same writes are one short transaction on the store's own ``sqlite3`` connection, run on the
event loop (see ``sqlite_writer.py``): the key is claimed first, so a replay writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.apps import Scope
from cauri.domain.payments import EVENT_FOR_STATUS, PaymentStatus, new_sorted_id
from cauri.store.idempotency import IdempotencyRepository, KeyTaken, StoredResponse, replay_stored
from cauri.store.initialize_sqlite import sqlite_create_payment
from cauri.store.payments import insert_payment
from cauri.store.pg_group import groups_of
from cauri.store.sqlite_writer import writer_of

_PAYMENT_COLUMNS = (
    "id", "app_id", "environment", "status", "amount", "currency", "description", "return_url",
    "customer_email", "customer", "metadata", "methods", "restrict_country_code", "restricted_phone",
    "is_processed", "processed_at", "initiated_at", "created_at", "updated_at",
)  # fmt: skip
# $1-$19: the payment, in _PAYMENT_COLUMNS order; $20-$22: the event (and its webhook deliveries, one per
# subscribed endpoint: the outbox); $23-$27: the idempotency record.
_PG_PAYMENT_AND_DELIVERIES = """
WITH d AS (
  INSERT INTO deliveries (id, event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
  SELECT $20 || ':' || w.id, $20, w.id, 'pending', 0, $18, $18 FROM webhook_endpoints w
  WHERE w.app_id = $2 AND w.environment = $3 AND w.is_enabled
    AND (w.event_types = '*' OR ',' || w.event_types || ',' LIKE '%,' || $21 || ',%')
), p AS (
  INSERT INTO payments (id, app_id, environment, status, amount, currency, description, return_url,
                        customer_email, customer, metadata, methods, restrict_country_code, restricted_phone,
                        is_processed, processed_at, initiated_at, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::json, $11::json, $12::json, $13, $14::json,
          $15, $16, $17, $18, $19)
)"""
_PG_EVENT = """INSERT INTO events (id, app_id, environment, type, payment_id, data, created_at)
VALUES ($20, $2, $3, $21, $1, $22::json, $18)"""
_PG_IDEMPOTENCY = """INSERT INTO idempotency_keys (app_id, environment, key, request_hash, status_code, response,
                              created_at, expires_at)
VALUES ($2, $3, $23, $24, $25, $26, $18, $27)"""
_PG_WITHOUT_KEY = "\n".join((_PG_PAYMENT_AND_DELIVERIES, _PG_EVENT))
_PG_WITH_KEY = "\n".join((_PG_PAYMENT_AND_DELIVERIES + ", e AS (", _PG_EVENT, ")", _PG_IDEMPOTENCY))

_JSON_COLUMNS = ("customer", "metadata", "methods", "restricted_phone")


async def create_payment(
    engine: AsyncEngine,
    scope: Scope,
    row: dict[str, Any],
    event_data: Mapping[str, Any],
    answer: StoredResponse,
    *,
    key: str | None,
    fingerprint: bytes,
    ttl: timedelta,
) -> StoredResponse:
    """Store the payment and answer ``answer``, or replay what an earlier request with ``key`` stored."""
    if engine.dialect.name != "postgresql":
        writer = writer_of(engine)
        if writer is not None:
            return await sqlite_create_payment(
                writer, scope, row, event_data, answer, key=key, fingerprint=fingerprint, ttl=ttl
            )
        now: datetime = row["created_at"]
        try:
            async with engine.begin() as conn:
                await insert_payment(conn, row, event_data, now)
                if key is not None:
                    await IdempotencyRepository(conn).claim(scope, key, fingerprint, answer, ttl)
            return answer
        except KeyTaken:
            pass  # the key was claimed first: replay what that request stored

    else:
        stored = await _insert_pg(engine, row, event_data, answer, key, fingerprint, ttl)
        if stored is not None:
            return stored
    assert key is not None
    replay = await replay_stored(engine, scope, key, fingerprint)
    if replay is not None:
        return replay
    # The stored key had expired and is now deleted: claim it afresh.
    return await create_payment(engine, scope, row, event_data, answer, key=key, fingerprint=fingerprint, ttl=ttl)


async def _insert_pg(
    engine: AsyncEngine,
    row: dict[str, Any],
    event_data: Mapping[str, Any],
    answer: StoredResponse,
    key: str | None,
    fingerprint: bytes,
    ttl: timedelta,
) -> StoredResponse | None:
    """The single-statement insert (in a group with the others of this turn of the loop and the next:
    ``pg_group.py``); None when ``key`` was claimed by an earlier request."""
    args: list[Any] = [orjson.dumps(row[c]).decode() if c in _JSON_COLUMNS else row[c] for c in _PAYMENT_COLUMNS]
    args += [new_sorted_id("evt_"), EVENT_FOR_STATUS[PaymentStatus.INITIATED], orjson.dumps(event_data).decode()]
    if key is not None:
        args += [key, fingerprint, answer.status, answer.body, row["created_at"] + ttl]
    stored = await groups_of(engine).insert(engine, _PG_WITH_KEY if key is not None else _PG_WITHOUT_KEY, args)
    return answer if stored else None
