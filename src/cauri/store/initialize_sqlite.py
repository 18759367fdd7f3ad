"""A new payment on SQLite: key, payment, ``payment.initiated`` event and its webhook deliveries, in one short
transaction of plain SQL on the store's ``sqlite3`` connection (``sqlite_writer.py``).

Values are converted as the engine's SQLAlchemy type processors convert them (JSON through the engine's
serializer, timestamps in SQLAlchemy's SQLite format), by plain functions a test holds equal to those
processors, so the rows read back exactly as if the engine had written them.
"""

from __future__ import annotations

import hmac
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, DateTime
from sqlalchemy.dialects import sqlite

from cauri.domain.apps import Scope
from cauri.domain.clock import utcnow
from cauri.domain.errors import Conflict
from cauri.domain.payments import EVENT_FOR_STATUS, PaymentStatus, new_sorted_id
from cauri.store.emails import MAILED_EVENTS
from cauri.store.idempotency import KeyReused, StoredResponse
from cauri.store.sqlite_writer import SQLiteWriter
from cauri.store.tables import events, payments

_INITIATED = EVENT_FOR_STATUS[PaymentStatus.INITIATED]
# The outbox of this event is its webhook deliveries only: were it ever mailed, its emails would belong here.
assert _INITIATED not in MAILED_EVENTS

# Compiled once from the table, so the columns are the table's, in its order.
_COMPILED_PAYMENT = payments.insert().compile(dialect=sqlite.dialect())
_INSERT_PAYMENT = str(_COMPILED_PAYMENT)
_PAYMENT_COLUMNS = tuple(_COMPILED_PAYMENT.positiontup or ())
_INSERT_EVENT = (
    "INSERT INTO events (id, app_id, environment, type, payment_id, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# One pending delivery per enabled endpoint subscribed to the event (as store/webhooks.py::insert_deliveries).
_INSERT_DELIVERIES = """INSERT INTO deliveries
  (id, event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
SELECT ? || ':' || w.id, ?, w.id, 'pending', 0, ?, ? FROM webhook_endpoints w
WHERE w.app_id = ? AND w.environment = ? AND w.is_enabled = 1
  AND (w.event_types = '*' OR ',' || w.event_types || ',' LIKE '%,' || ? || ',%')"""
_CLAIM_KEY = """INSERT INTO idempotency_keys (app_id, environment, key, request_hash, status_code, response,
                              created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
_STORED = """SELECT request_hash, status_code, response, expires_at > ? FROM idempotency_keys
WHERE app_id = ? AND environment = ? AND key = ?"""
_FORGET = "DELETE FROM idempotency_keys WHERE app_id = ? AND environment = ? AND key = ?"


def stamp(moment: datetime) -> str:
    """A timestamp as SQLAlchemy's SQLite ``DateTime`` stores it: the wall time to the microsecond, without its
    offset (``2026-12-07 11:35:49.000000``). A third quicker than SQLAlchemy's own processor."""
    return moment.isoformat(" ", "microseconds")[:26]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()  # the engine's serializer (``engine.py``): None is "null", as there


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _stamp_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else stamp(moment)


def _converter(column: Any) -> Callable[[Any], Any] | None:
    """What the engine does to a value of ``column`` before SQLite stores it (``test_initialize_sqlite.py``
    holds these to SQLAlchemy's processors): its own processors cost the hot path ~4 % of its time."""
    kind = type(column.type)
    if kind is JSON:
        return _json
    if kind is Boolean:
        return _flag
    if kind is DateTime:
        return _stamp_or_none
    return None


#: The conversion of each of ``_PAYMENT_COLUMNS``, None for values stored as they are.
PAYMENT_CONVERTERS = tuple(_converter(payments.c[name]) for name in _PAYMENT_COLUMNS)
assert _converter(events.c.data) is _json and _converter(events.c.created_at) is _stamp_or_none


async def sqlite_create_payment(
    writer: SQLiteWriter,
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
    now = row["created_at"]
    created = stamp(now)
    # The payment's timestamps are all ``now`` (but processed_at): formatted once.
    payment = [
        created if row[c] is now else convert(row[c]) if convert else row[c]
        for c, convert in zip(_PAYMENT_COLUMNS, PAYMENT_CONVERTERS, strict=True)
    ]
    event_id = new_sorted_id("evt_")
    event = (event_id, scope.app_id, scope.environment, _INITIATED, row["id"], _json(event_data), created)
    deliveries = (event_id, event_id, created, created, scope.app_id, scope.environment, _INITIATED)
    claim = (scope.app_id, scope.environment, key, fingerprint, answer.status, answer.body, created,
             stamp(now + ttl))  # fmt: skip

    def work(conn: sqlite3.Connection) -> StoredResponse:
        if key is not None:
            replay = _claim_key(conn, claim, fingerprint)
            if replay is not None:
                return replay
        conn.execute(_INSERT_PAYMENT, payment)
        conn.execute(_INSERT_EVENT, event)
        conn.execute(_INSERT_DELIVERIES, deliveries)
        return answer

    return await writer.transaction(work)


def _claim_key(conn: sqlite3.Connection, claim: tuple[Any, ...], fingerprint: bytes) -> StoredResponse | None:
    """Claim the key (``None``), or the response stored for it by an earlier request with the same body."""
    where = claim[:3]
    for _ in range(2):
        try:
            conn.execute(_CLAIM_KEY, claim)
            return None
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
        stored = conn.execute(_STORED, (stamp(utcnow()), *where)).fetchone()
        if stored is None:
            continue
        request_hash, status, response, live = stored
        if live:
            if not hmac.compare_digest(bytes(request_hash), fingerprint):
                raise KeyReused("This Idempotency-Key was already used with a different request body.")
            return StoredResponse(status, bytes(response), replayed=True)
        conn.execute(_FORGET, where)  # expired: claim it afresh
    raise Conflict("This Idempotency-Key is being reused concurrently; retry later.")
