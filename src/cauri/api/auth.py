"""Bearer secret keys: which app and environment a request acts for, and its rate limit."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from starlette.requests import Request

from cauri.api.errors import ApiError
from cauri.domain.apps import KeyOwner
from cauri.domain.clock import utcnow
from cauri.domain.keys import hash_secret
from cauri.services.apps import key_owner

_MISSING = "Unauthenticated: send your secret key as 'Authorization: Bearer <secret key>'."
_INVALID = "Unauthenticated: the API key is invalid."
_EXPIRED = "Unauthenticated: the API key has expired or was revoked."


@dataclass
class KeyCache:
    """Verified keys kept in memory for a few seconds, so the hot path skips one query per request.

    Expiry (rotation, revocation) is checked against the cached expiry on every request, so a key revoked
    in this process's view stops at once; one revoked by another process is seen within ``ttl`` seconds.
    """

    ttl: float
    _entries: dict[bytes, tuple[float, KeyOwner | None]] = field(default_factory=dict)

    def get(self, secret_hash: bytes) -> tuple[bool, KeyOwner | None]:
        entry = self._entries.get(secret_hash)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, secret_hash: bytes, owner: KeyOwner | None) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) > 10_000:  # a flood of random keys must not grow memory without bound
            self._entries.clear()
        self._entries[secret_hash] = (time.monotonic() + self.ttl, owner)


@dataclass
class RateLimiter:
    """A fixed one-minute window per key, in this process (each `cauri serve` process counts alone)."""

    _windows: dict[str, tuple[int, int]] = field(default_factory=dict)

    def check(self, key_id: str, limit: int) -> None:
        if limit <= 0:
            return
        now = time.time()
        window = int(now // 60)
        start, count = self._windows.get(key_id, (window, 0))
        if start != window:
            start, count = window, 0
        if count >= limit:
            retry = max(1, math.ceil((window + 1) * 60 - now))
            raise ApiError(
                429,
                f"Too many requests: this key may send {limit} requests per minute. Retry in {retry} seconds.",
                headers={"Retry-After": str(retry)},
            )
        self._windows[key_id] = (start, count + 1)
        if len(self._windows) > 10_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] == window}


async def authenticate(request: Request) -> KeyOwner:
    """The one way an API handler learns who calls: the Bearer secret key, checked (through a few seconds'
    cache), with the app's rate limit counted."""
    from cauri.api.context import gateway_of  # the context module imports this one

    gateway = gateway_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise ApiError(401, _MISSING)
    # The lookup is by SHA-256 of the secret, so no comparison of secrets happens at all; the index
    # lookup on a hash reveals nothing about the secret's characters.
    secret_hash = hash_secret(secret)
    found, owner = gateway.keys.get(secret_hash)
    if not found:
        owner = await key_owner(gateway.uow(), secret_hash)
        gateway.keys.put(secret_hash, owner)
    if owner is None:
        raise ApiError(401, _INVALID)
    if owner.expires_at is not None and owner.expires_at <= utcnow():
        raise ApiError(401, _EXPIRED)
    if not owner.app.is_enabled:
        raise ApiError(403, "This app is disabled.")
    gateway.limiter.check(owner.key_id, owner.app.rate_limit)
    request.state.app_id = owner.app.id
    return owner
