"""A new payment on SQLite: key, payment, ``payment.initiated`` event and its webhook deliveries, in one short
transaction of plain SQL on the store's ``sqlite3`` connection (``sqlite_writer.py``).

Values are converted by the same SQLAlchemy type processors the engine uses (JSON through the engine's
serializer, timestamps in SQLAlchemy's SQLite format), so the rows read back exactly as if the engine had
written them.
"""

from __future__ import annotations

import hmac
import sqlite3
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect

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

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Binders:
    payment: tuple[Processor, ...]  # in _PAYMENT_COLUMNS order
    json: Callable[[Any], Any]
    timestamp: Callable[[Any], Any]


_binders: weakref.WeakKeyDictionary[Dialect, _Binders] = weakref.WeakKeyDictionary()


def _binders_for(dialect: Dialect) -> _Binders:
    found = _binders.get(dialect)
    if found is None:

        def processor(column: Any) -> Processor:
            return column.type.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]

        json, timestamp = processor(events.c.data), processor(events.c.created_at)
        assert json is not None and timestamp is not None
        found = _Binders(tuple(processor(payments.c[name]) for name in _PAYMENT_COLUMNS), json, timestamp)
        _binders[dialect] = found
    return found


async def sqlite_create_payment(
    writer: SQLiteWriter,
    dialect: Dialect,
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
    bind = _binders_for(dialect)
    now = row["created_at"]
    created = bind.timestamp(now)
    # The payment's timestamps are all ``now`` (but processed_at): formatted once.
    payment = [
        created if row[c] is now else p(row[c]) if p else row[c]
        for c, p in zip(_PAYMENT_COLUMNS, bind.payment, strict=True)
    ]
    event_id = new_sorted_id("evt_")
    event = (event_id, scope.app_id, scope.environment, _INITIATED, row["id"], bind.json(event_data), created)
    deliveries = (event_id, event_id, created, created, scope.app_id, scope.environment, _INITIATED)
    claim = (scope.app_id, scope.environment, key, fingerprint, answer.status, answer.body, created,
             bind.timestamp(now + ttl))  # fmt: skip

    def work(conn: sqlite3.Connection) -> StoredResponse:
        if key is not None:
            replay = _claim_key(conn, claim, bind.timestamp, fingerprint)
            if replay is not None:
                return replay
        conn.execute(_INSERT_PAYMENT, payment)
        conn.execute(_INSERT_EVENT, event)
        conn.execute(_INSERT_DELIVERIES, deliveries)
        return answer

    return await writer.transaction(work)


def _claim_key(
    conn: sqlite3.Connection, claim: tuple[Any, ...], timestamp: Callable[[Any], Any], fingerprint: bytes
) -> StoredResponse | None:
    """Claim the key (``None``), or the response stored for it by an earlier request with the same body."""
    where = claim[:3]
    for _ in range(2):
        try:
            conn.execute(_CLAIM_KEY, claim)
            return None
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
        stored = conn.execute(_STORED, (timestamp(utcnow()), *where)).fetchone()
        if stored is None:
            continue
        request_hash, status, response, live = stored
        if live:
            if not hmac.compare_digest(bytes(request_hash), fingerprint):
                raise KeyReused("This Idempotency-Key was already used with a different request body.")
            return StoredResponse(status, bytes(response), replayed=True)
        conn.execute(_FORGET, where)  # expired: claim it afresh
    raise Conflict("This Idempotency-Key is being reused concurrently; retry later.")
