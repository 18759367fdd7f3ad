"""Idempotency keys (the IETF Idempotency-Key draft, as Stripe does it).

The key is claimed by a unique-constraint insert in the same transaction as the work, never by
select-then-insert: of two concurrent requests with one key, the second blocks on the first's uncommitted
row, then finds it and replays it. Only successful responses are stored, so a request that failed
validation can be corrected and sent again with the same key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cauri.domain.apps import Scope
from cauri.domain.clock import as_utc, utcnow
from cauri.domain.errors import Conflict, DomainError
from cauri.store.tables import idempotency_keys

KEY_MAX = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    replayed: bool = False


#: The answer to a request whose key another request's transaction still holds (PostgreSQL's lock timeout).
KEY_IN_FLIGHT = "A request with this Idempotency-Key is still being processed; retry later."


class KeyTaken(Exception):
    """Another request claimed the key first (its transaction has committed by the time this is raised)."""


class KeyReused(DomainError):
    status = 422
    field = "Idempotency-Key"


def request_fingerprint(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).digest()


class IdempotencyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim(self, scope: Scope, key: str, fingerprint: bytes, response: StoredResponse, ttl: timedelta) -> None:
        """Store ``response`` for ``key`` in the caller's transaction. Raises ``IntegrityError`` when another
        request holds the key (after waiting for its transaction), ``Conflict`` when it holds it too long."""
        now = utcnow()
        try:
            await self.conn.execute(
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
        except IntegrityError as exc:
            raise KeyTaken(key) from exc
        except DBAPIError as exc:
            if _is_lock_timeout(exc):
                raise Conflict(KEY_IN_FLIGHT) from exc
            raise

    async def keep(self, scope: Scope, key: str, response: StoredResponse) -> None:
        """Store ``response`` for a key this transaction claimed before its work ran."""
        await self.conn.execute(
            update(idempotency_keys)
            .where(*_key(scope, key))
            .values(status_code=response.status, response=response.body)
        )

    async def release(self, scope: Scope, key: str) -> None:
        """Give up a key this transaction claimed (its work did not succeed: nothing is stored)."""
        await self.conn.execute(delete(idempotency_keys).where(*_key(scope, key)))

    async def stored(self, scope: Scope, key: str) -> tuple[bytes, StoredResponse] | None:
        """The stored response for ``key``; an expired one is deleted instead, and ``None`` returned."""
        where = (
            idempotency_keys.c.app_id == scope.app_id,
            idempotency_keys.c.environment == scope.environment,
            idempotency_keys.c.key == key,
        )
        row = (await self.conn.execute(select(idempotency_keys).where(*where))).one_or_none()
        if row is None:
            return None
        if as_utc(row.expires_at) <= utcnow():
            await self.conn.execute(delete(idempotency_keys).where(*where))
            return None
        return bytes(row.request_hash), StoredResponse(row.status_code, bytes(row.response), replayed=True)

    async def purge_expired(self) -> int:
        """Delete expired keys, expired ones that still block a new claim included."""
        result = await self.conn.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= utcnow()))
        return int(result.rowcount)


def check_replay(stored: tuple[bytes, StoredResponse], fingerprint: bytes) -> StoredResponse:
    """The stored response, if the request is the same one; another body under the same key is refused."""
    request_hash, response = stored
    if not hmac.compare_digest(request_hash, fingerprint):
        raise KeyReused("This Idempotency-Key was already used with a different request body.")
    return response


async def replay_stored(engine: AsyncEngine, scope: Scope, key: str, fingerprint: bytes) -> StoredResponse | None:
    """The response stored for ``key`` if the request is the same; ``None`` if the key had expired."""
    async with engine.begin() as conn:
        stored = await IdempotencyRepository(conn).stored(scope, key)
    return None if stored is None else check_replay(stored, fingerprint)


def _key(scope: Scope, key: str) -> tuple[Any, ...]:
    c = idempotency_keys.c
    return (c.app_id == scope.app_id, c.environment == scope.environment, c.key == key)


def _is_lock_timeout(exc: DBAPIError) -> bool:
    # PostgreSQL's lock_not_available: the first request still holds the key after lock_timeout.
    return sqlstate(exc) == "55P03"


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE behind a driver error (asyncpg's error hides under SQLAlchemy's adapter)."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
