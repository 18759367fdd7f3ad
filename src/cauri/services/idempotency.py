"""Running a write once per Idempotency-Key (the IETF draft, as Stripe does it).

The key is claimed by a unique insert in the same transaction as the work, never by select-then-insert: of
two concurrent requests with one key, the second waits on the first's uncommitted row, then replays what it
stored. Only successful responses are stored, so a request refused by validation can be corrected and sent
again with the same key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from cauri.domain.apps import Scope
from cauri.domain.errors import Conflict
from cauri.services.runtime import UnitOfWork
from cauri.store.idempotency import KEY_MAX, KeyTaken, StoredResponse, check_replay, request_fingerprint

#: What a claimed key holds until its work's response replaces it, in the same transaction (never seen by others).
_CLAIMED = StoredResponse(0, b"")

__all__ = ["KEY_MAX", "IdempotencyKey", "StoredResponse", "request_fingerprint", "run_once"]


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    key: str
    fingerprint: bytes  # of the request: the same key with another body is refused
    ttl: timedelta


async def run_once(
    uow: UnitOfWork,
    scope: Scope,
    idempotency: IdempotencyKey | None,
    work: Callable[[UnitOfWork], Awaitable[StoredResponse]],
) -> StoredResponse:
    """Run ``work`` in one unit of work; with a key, store its response in that same transaction, or replay
    the response stored for the key."""
    if idempotency is None:
        async with uow:
            response = await work(uow)
            await uow.commit()
            return response
    # A retry is answered before the work runs again: the work's rules may refuse it now (the money it
    # refunded or paid out is no longer there), though the first request went through.
    async with uow.reading():
        kept = await uow.idempotency.stored(scope, idempotency.key)
    if kept is not None:
        return check_replay(kept, idempotency.fingerprint)
    for _ in range(2):
        try:
            async with uow:
                # Claimed before the work runs: a concurrent copy of this request waits here for this one's
                # commit and replays it, rather than running the work against what this one changed (a
                # refund of what is left would find nothing left, and be refused).
                await uow.idempotency.claim(scope, idempotency.key, idempotency.fingerprint, _CLAIMED, idempotency.ttl)
                response = await work(uow)
                if 200 <= response.status < 300:
                    await uow.idempotency.keep(scope, idempotency.key, response)
                else:
                    await uow.idempotency.release(scope, idempotency.key)
                await uow.commit()
                return response
        except KeyTaken:
            pass  # claimed first by another request: replay what it stored
        async with uow:
            stored = await uow.idempotency.stored(scope, idempotency.key)
            await uow.commit()
        if stored is not None:
            return check_replay(stored, idempotency.fingerprint)
        # It had expired and is gone now: claim it afresh.
    raise Conflict("This Idempotency-Key is being reused concurrently; retry later.")
