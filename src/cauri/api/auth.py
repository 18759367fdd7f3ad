"""Bearer secret keys: which app and environment a request acts for, and its rate limit."""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from starlette.requests import Request

from cauri.api.errors import ApiError
from cauri.api.forwarded import client_address, limit_key
from cauri.domain.apps import KeyOwner
from cauri.domain.clock import utcnow
from cauri.domain.keys import hash_secret
from cauri.services.apps import key_owner

if TYPE_CHECKING:
    from cauri.api.context import Gateway

log = logging.getLogger("cauri.auth")

_MISSING = "Unauthenticated: send your secret key as 'Authorization: Bearer <secret key>'."
_INVALID = "Unauthenticated: the API key is invalid."
_EXPIRED = "Unauthenticated: the API key has expired or was revoked."
#: How long a key seen valid lets its requests through an address's failure throttle.
VOUCH_SECONDS = 3600.0
#: A key's owner as the database knows it (None: no such key).
Lookup = Callable[[bytes], Awaitable[KeyOwner | None]]


@dataclass
class KeyCache:
    """Verified keys kept in memory for a few seconds, so the hot path skips one query per request.

    Expiry (rotation, revocation) is checked against the cached expiry on every request, so a key revoked
    in this process's view stops at once; one revoked by another process is seen within ``ttl`` seconds.

    Valid keys and unknown ones live apart: anyone can send unknown keys by the million, so they get a small
    map of their own that drops its oldest entry when full, and can never push a valid key out (a flood of
    random keys used to clear the whole cache). Valid keys are as many as the database holds. The cache also
    remembers which keys it has seen valid lately (``vouches``), so an address throttled for failures does
    not lock out a merchant's good key that shares it.

    A key is looked up once at a time (``look_up``): requests that need it meanwhile wait for that lookup's
    answer, and an entry in the second half of its life is served while a lookup beside the requests renews it
    (``refresh``). When an entry ran out under load, every request in flight queried the database for the
    same key, one after another through the engine's single SQLite connection: on SQLite at half of the peak
    rate that stalled 10-20 requests for up to 350 ms every ``ttl`` seconds, the p99 of the benchmark.
    """

    ttl: float
    max_unknown: int = 4096
    #: secret hash -> (monotonic time the entry stops being trusted, the key's owner)
    _valid: dict[bytes, tuple[float, KeyOwner]] = field(default_factory=dict)
    _unknown: OrderedDict[bytes, float] = field(default_factory=OrderedDict)
    #: The lookup under way for each key.
    _lookups: dict[bytes, asyncio.Task[KeyOwner | None]] = field(default_factory=dict)
    #: Bumped by ``forget``: a lookup that started before must not put back what it read.
    _generation: int = 0

    def get(self, secret_hash: bytes) -> tuple[bool, KeyOwner | None]:
        now = time.monotonic()
        entry = self._valid.get(secret_hash)
        if entry is not None and entry[0] > now:
            return True, entry[1]
        unknown_until = self._unknown.get(secret_hash)
        if unknown_until is not None and unknown_until > now:
            return True, None
        return False, None

    def refresh_due(self, secret_hash: bytes) -> bool:
        """Whether the entry ``get`` just served is past half its life with no lookup under way."""
        entry = self._valid.get(secret_hash)
        return entry is not None and entry[0] - time.monotonic() < self.ttl / 2 and secret_hash not in self._lookups

    def refresh(self, secret_hash: bytes, lookup: Lookup) -> None:
        """Renew the key's entry beside the requests (one that fails leaves the entry to run out on time)."""
        if secret_hash not in self._lookups:
            self._start(secret_hash, lookup)

    async def look_up(self, secret_hash: bytes, lookup: Lookup) -> KeyOwner | None:
        """The key's owner from the database, through the lookup already under way for it if there is one."""
        task = self._lookups.get(secret_hash) or self._start(secret_hash, lookup)
        return await asyncio.shield(task)  # a request cancelled must not cancel the others' lookup

    async def settle(self) -> None:
        """Wait for the lookups under way (before the engine is disposed)."""
        await asyncio.gather(*self._lookups.values(), return_exceptions=True)

    def _start(self, secret_hash: bytes, lookup: Lookup) -> asyncio.Task[KeyOwner | None]:
        task = asyncio.create_task(self._fetch(secret_hash, lookup, self._generation, time.monotonic()))
        self._lookups[secret_hash] = task
        task.add_done_callback(partial(self._done, secret_hash))
        return task

    async def _fetch(self, secret_hash: bytes, lookup: Lookup, generation: int, started: float) -> KeyOwner | None:
        owner = await lookup(secret_hash)
        if generation == self._generation:
            # Trusted for ``ttl`` from when it was read, not from when the answer came.
            self.put(secret_hash, owner, now=started)
        return owner

    def _done(self, secret_hash: bytes, task: asyncio.Task[KeyOwner | None]) -> None:
        if self._lookups.get(secret_hash) is task:
            del self._lookups[secret_hash]
        error = None if task.cancelled() else task.exception()  # retrieved: a refresh nobody waits for
        if error is not None:
            # A request waiting for it gets the error; a refresh's entry runs out on time and is looked up again.
            log.warning("looking up a key failed: %r", error)

    def put(self, secret_hash: bytes, owner: KeyOwner | None, *, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if owner is not None:
            self._unknown.pop(secret_hash, None)
            if len(self._valid) > 10_000:  # keys issued and revoked over a long uptime: forget the long gone
                self._valid = {h: e for h, e in self._valid.items() if e[0] > now - VOUCH_SECONDS}
            # Kept past its TTL (not served then) to vouch for the key; ``get`` honours the TTL alone.
            self._valid[secret_hash] = (now + self.ttl, owner)
            return
        self._valid.pop(secret_hash, None)
        if self.ttl <= 0 or self.max_unknown <= 0:
            return
        self._unknown[secret_hash] = now + self.ttl
        self._unknown.move_to_end(secret_hash)
        while len(self._unknown) > self.max_unknown:
            self._unknown.popitem(last=False)

    def forget(self, key_id: str) -> None:
        """Drop a key whose expiry just changed here (the dashboard's rotation or revocation): this process
        sees the change at once, others within ``ttl`` seconds. Rare, so a scan is fine."""
        self._generation += 1
        self._valid = {h: e for h, e in self._valid.items() if e[1].key_id != key_id}
        # A lookup under way read the key before the change: the next requests start their own.
        self._lookups = {}

    def vouches(self, secret_hash: bytes) -> bool:
        """Whether this key was good here within the last ``VOUCH_SECONDS`` and has not expired since (it is
        still looked up as usual once its cache entry is stale)."""
        entry = self._valid.get(secret_hash)
        if entry is None or entry[0] <= time.monotonic() - VOUCH_SECONDS:
            return False
        expires_at = entry[1].expires_at
        return expires_at is None or expires_at > utcnow()


@dataclass
class FailureThrottle:
    """At most ``limit`` failed authentications per address per minute, in this process; past it, the address
    gets 429 without a key lookup (a flood of made-up keys costs a dictionary lookup, not a query)."""

    limit: int
    seconds: float = 60.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def check(self, address: str) -> None:
        if self.limit <= 0:
            return
        failures = self._failures.get(address)
        if failures is None:
            return
        now = time.monotonic()
        while failures and failures[0] <= now - self.seconds:
            failures.popleft()
        if len(failures) >= self.limit:
            retry = max(1, math.ceil(failures[0] + self.seconds - now))
            raise ApiError(
                429,
                f"Too many failed authentications from this address. Retry in {retry} seconds.",
                headers={"Retry-After": str(retry)},
            )

    def record(self, address: str) -> None:
        if self.limit <= 0:
            return
        now = time.monotonic()
        if len(self._failures) > 10_000:  # many addresses: forget the quiet ones
            self._failures = {a: f for a, f in self._failures.items() if f and f[-1] > now - self.seconds}
        failures = self._failures.setdefault(address, deque(maxlen=self.limit))
        failures.append(now)


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


def bearer_matches(header: str, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` as a bearer token, compared in constant time."""
    scheme, _, presented = header.partition(" ")
    # Compared as UTF-8 bytes: compare_digest refuses non-ASCII str, and a crash would be a 500, not a 401.
    matches = hmac.compare_digest(presented.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches


def authenticate_operator(request: Request) -> None:
    """The gateway's operator, for what is the same for every app (exchange rates): the bearer token of
    ``CAURI_OPERATOR_TOKEN``. Off (403) while it is not set; wrong tokens count toward the address's
    failed-authentication throttle, as bad keys do."""
    from cauri.api.context import gateway_of

    gateway = gateway_of(request)
    token = gateway.settings.operator_token
    if not token:
        raise ApiError(403, "The operator API is off: the gateway's operator sets CAURI_OPERATOR_TOKEN to use it.")
    address = limit_key(client_address(request))
    gateway.auth_failures.check(address)
    if not bearer_matches(request.headers.get("authorization", ""), token):
        gateway.auth_failures.record(address)
        raise ApiError(401, "Unauthenticated: send the operator's token as 'Authorization: Bearer <token>'.",
                       {"WWW-Authenticate": "Bearer"})  # fmt: skip


async def authenticate(request: Request, gateway: Gateway | None = None) -> KeyOwner:
    """The one way an API handler learns who calls: the Bearer secret key, checked (through a few seconds'
    cache), with the app's rate limit counted. An address that keeps presenting bad keys is throttled before
    any lookup, unless the key it presents is one this process has seen good."""
    if gateway is None:
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
    # The address is parsed only when it is counted: a vouched key's request (the hot path) never needs it.
    if not gateway.keys.vouches(secret_hash):
        gateway.auth_failures.check(limit_key(client_address(request)))
    keys = gateway.keys
    found, owner = keys.get(secret_hash)
    if not found:
        owner = await keys.look_up(secret_hash, partial(_find_owner, gateway))
    elif keys.refresh_due(secret_hash):
        keys.refresh(secret_hash, partial(_find_owner, gateway))
    if owner is None:
        gateway.auth_failures.record(limit_key(client_address(request)))
        raise ApiError(401, _INVALID)
    if owner.expires_at is not None and owner.expires_at <= utcnow():
        gateway.auth_failures.record(limit_key(client_address(request)))
        raise ApiError(401, _EXPIRED)
    if not owner.app.is_enabled:
        raise ApiError(403, "This app is disabled.")
    gateway.limiter.check(owner.key_id, owner.app.rate_limit)
    gateway.key_usage.seen(owner.key_id, gateway.uow)  # a dictionary lookup; a write once a minute at most
    request.state.app_id = owner.app.id
    return owner


async def _find_owner(gateway: Gateway, secret_hash: bytes) -> KeyOwner | None:
    return await key_owner(gateway.uow(), secret_hash)
