"""Idempotency keys (the IETF Idempotency-Key draft, as Stripe does it).

The key is claimed by a unique-constraint insert in the same transaction as the work, never by
select-then-insert: of two concurrent requests with one key, the second blocks on the first's uncommitted
row, then finds it and replays it. Only successful responses are stored, so a request that failed
validation can be corrected and sent again with the same key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cauri.domain.errors import Conflict, DomainError
from cauri.store.clock import as_utc, utcnow
from cauri.store.payments import Scope
from cauri.store.tables import idempotency_keys

KEY_MAX = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    replayed: bool = False


class KeyReused(DomainError):
    status = 422
    field = "Idempotency-Key"


def request_fingerprint(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).digest()


async def run_once(
    engine: AsyncEngine,
    scope: Scope,
    key: str | None,
    fingerprint: bytes,
    ttl: timedelta,
    work: Callable[[AsyncConnection], Awaitable[StoredResponse]],
) -> StoredResponse:
    """Run ``work`` in a transaction; with a key, store its response in that same transaction, or replay the
    response stored for the key."""
    if key is None:
        async with engine.begin() as conn:
            return await work(conn)
    for _ in range(2):
        try:
            return await _claim_and_run(engine, scope, key, fingerprint, ttl, work)
        except IntegrityError:
            pass  # the key was claimed first by another request: replay what it stored
        except DBAPIError as exc:
            if _is_lock_timeout(exc):
                raise Conflict("A request with this Idempotency-Key is still being processed; retry later.") from exc
            raise
        replay = await replay_stored(engine, scope, key, fingerprint)
        if replay is not None:
            return replay
        # It had expired and is gone now: claim it afresh.
    raise Conflict("This Idempotency-Key is being reused concurrently; retry later.")


async def _claim_and_run(
    engine: AsyncEngine,
    scope: Scope,
    key: str,
    fingerprint: bytes,
    ttl: timedelta,
    work: Callable[[AsyncConnection], Awaitable[StoredResponse]],
) -> StoredResponse:
    async with engine.begin() as conn:
        response = await work(conn)
        if 200 <= response.status < 300:
            now = utcnow()
            await conn.execute(
                idempotency_keys.insert().values(
                    app_id=scope.app_id,
                    environment=scope.environment,
                    key=key,
                    request_hash=fingerprint,
                    status_code=response.status,
                    response=response.body,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return response


async def replay_stored(engine: AsyncEngine, scope: Scope, key: str, fingerprint: bytes) -> StoredResponse | None:
    """The response stored for ``key`` if the request is the same; ``None`` if the key had expired."""
    stored = await _stored(engine, scope, key)
    if stored is None:
        return None
    request_hash, response = stored
    if not hmac.compare_digest(request_hash, fingerprint):
        raise KeyReused("This Idempotency-Key was already used with a different request body.")
    return response


async def _stored(engine: AsyncEngine, scope: Scope, key: str) -> tuple[bytes, StoredResponse] | None:
    """The stored response for ``key``; an expired one is deleted instead, and ``None`` returned."""
    where = (
        idempotency_keys.c.app_id == scope.app_id,
        idempotency_keys.c.environment == scope.environment,
        idempotency_keys.c.key == key,
    )
    async with engine.begin() as conn:
        row = (await conn.execute(select(idempotency_keys).where(*where))).one_or_none()
        if row is None:
            return None
        if as_utc(row.expires_at) <= utcnow():
            await conn.execute(delete(idempotency_keys).where(*where))
            return None
    return bytes(row.request_hash), StoredResponse(row.status_code, bytes(row.response), replayed=True)


async def purge_expired(engine: AsyncEngine) -> int:
    """Delete expired keys, expired ones that still block a new claim included."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= utcnow()))
    return int(result.rowcount)


def _is_lock_timeout(exc: DBAPIError) -> bool:
    # PostgreSQL's lock_not_available: the first request still holds the key after lock_timeout.
    return sqlstate(exc) == "55P03"


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE behind a driver error (asyncpg's error hides under SQLAlchemy's adapter)."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
