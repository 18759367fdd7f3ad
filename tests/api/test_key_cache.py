"""The in-process key cache: it spares a query per request, never outlives its TTL, and never extends a key's
life past its own expiry."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.api.auth import KeyCache
from cauri.app import create_app
from cauri.domain.payments import Environment
from cauri.services.apps import key_owner, revoke_key, rotate_key
from cauri.settings import Settings
from tests.conftest import new_merchant, uow


def test_entries_expire_after_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("cauri.api.auth.time.monotonic", lambda: now[0])
    cache = KeyCache(ttl=5)
    cache.put(b"h", None)
    assert cache.get(b"h") == (True, None)
    now[0] += 5.1
    assert cache.get(b"h") == (False, None)


def test_a_zero_ttl_caches_nothing() -> None:
    cache = KeyCache(ttl=0)
    cache.put(b"h", None)
    assert cache.get(b"h") == (False, None)


async def test_cached_keys_still_expire_on_time(settings: Settings, engine: AsyncEngine) -> None:
    cached = settings.model_copy(update={"key_cache_seconds": 60})
    app = create_app(cached, engine)
    merchant = await new_merchant(engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cauri.test") as client:
        assert (await client.get("/v1/payments", headers=merchant.headers)).status_code == 200
        # Revoked elsewhere: this process trusts its cached entry until the TTL runs out (documented).
        await revoke_key(uow(engine), merchant.secret.split("|")[0])
        assert (await client.get("/v1/payments", headers=merchant.headers)).status_code == 200
        app.state.gateway.keys = KeyCache(ttl=60)  # the TTL ran out
        assert (await client.get("/v1/payments", headers=merchant.headers)).status_code == 401

    # A rotation's grace period ends on time even for a cached key: the expiry is cached with it.
    other = await new_merchant(engine)
    app = create_app(cached, engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cauri.test") as client:
        await rotate_key(uow(engine), other.id, Environment.SANDBOX, timedelta(milliseconds=300))
        assert (await client.get("/v1/payments", headers=other.headers)).status_code == 200
        await asyncio.sleep(0.4)
        assert (await client.get("/v1/payments", headers=other.headers)).status_code == 401


class SlowLookup:
    """A lookup that answers only when released, counting its calls."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self, secret_hash: bytes) -> Any:
        self.calls += 1
        await self.release.wait()
        if isinstance(self.owner, Exception):
            raise self.owner
        return self.owner


async def test_requests_missing_the_same_key_share_one_lookup() -> None:
    cache = KeyCache(ttl=5)
    owner: Any = object()  # the cache stores owners without looking inside them
    lookup = SlowLookup(owner)
    waiting = [asyncio.create_task(cache.look_up(b"h", lookup)) for _ in range(20)]
    await asyncio.sleep(0)
    lookup.release.set()
    assert await asyncio.gather(*waiting) == [owner] * 20
    assert lookup.calls == 1
    assert cache.get(b"h") == (True, owner)


async def test_a_cancelled_request_does_not_cancel_the_lookup_others_wait_for() -> None:
    cache = KeyCache(ttl=5)
    lookup = SlowLookup(None)
    first = asyncio.create_task(cache.look_up(b"h", lookup))
    second = asyncio.create_task(cache.look_up(b"h", lookup))
    await asyncio.sleep(0)
    first.cancel()
    lookup.release.set()
    assert await second is None
    assert lookup.calls == 1


async def test_an_entry_past_half_its_life_is_renewed_beside_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("cauri.api.auth.time.monotonic", lambda: now[0])
    cache = KeyCache(ttl=10)
    old: Any = object()
    new: Any = object()
    cache.put(b"h", old)
    now[0] += 4
    assert not cache.refresh_due(b"h")  # in the first half of its life
    now[0] += 2
    assert cache.refresh_due(b"h")
    lookup = SlowLookup(new)
    cache.refresh(b"h", lookup)
    cache.refresh(b"h", lookup)  # one renewal at a time
    await asyncio.sleep(0)
    assert cache.get(b"h") == (True, old)  # served meanwhile
    assert not cache.refresh_due(b"h")
    now[0] += 1  # the lookup takes a second
    lookup.release.set()
    await cache.settle()
    assert lookup.calls == 1
    now[0] += 8  # t=1015: past the old entry's end, within the new one's
    assert cache.get(b"h") == (True, new)
    now[0] += 1.1  # t=1016.1: trusted for 10 s from when it was read (t=1006), not from when it came (t=1007)
    assert cache.get(b"h") == (False, None)


async def test_a_failed_renewal_leaves_the_entry_to_run_out_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("cauri.api.auth.time.monotonic", lambda: now[0])
    cache = KeyCache(ttl=10)
    owner: Any = object()
    cache.put(b"h", owner)
    now[0] += 6
    unhandled: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: unhandled.append(context))
    lookup = SlowLookup(ConnectionError("the database is away"))
    cache.refresh(b"h", lookup)
    lookup.release.set()
    for _ in range(3):  # the lookup fails, then its task is done with
        await asyncio.sleep(0)
    assert not cache._lookups
    gc.collect()  # a task whose error nobody retrieved would be reported as it goes
    assert unhandled == []
    assert cache.get(b"h") == (True, owner)
    now[0] += 4.1
    assert cache.get(b"h") == (False, None)
    with pytest.raises(ConnectionError):  # a request that has to wait for a lookup gets its error
        await cache.look_up(b"h", lookup)


async def test_a_lookup_that_started_before_a_rotation_does_not_put_back_what_it_read() -> None:
    cache = KeyCache(ttl=5)
    stale: Any = KeyOwnerStub("key_1")
    lookup = SlowLookup(stale)
    pending = asyncio.create_task(cache.look_up(b"h", lookup))
    await asyncio.sleep(0)
    cache.forget("key_1")  # rotated here while the lookup ran
    lookup.release.set()
    assert await pending is stale  # the request that waited gets its answer ...
    assert cache.get(b"h") == (False, None)  # ... but the next one reads the key afresh


async def test_requests_after_a_rotation_do_not_join_a_lookup_that_read_the_key_before_it() -> None:
    cache = KeyCache(ttl=5)
    before, after = SlowLookup(KeyOwnerStub("key_1")), SlowLookup(None)  # the second: revoked meanwhile
    pending = asyncio.create_task(cache.look_up(b"h", before))
    await asyncio.sleep(0)
    cache.forget("key_1")
    later = asyncio.create_task(cache.look_up(b"h", after))
    await asyncio.sleep(0)
    before.release.set()
    after.release.set()
    assert (await pending, await later) == (before.owner, None)
    assert (before.calls, after.calls) == (1, 1)
    assert cache.get(b"h") == (True, None)


@dataclass
class KeyOwnerStub:
    key_id: str


async def test_a_cold_cache_costs_one_lookup_for_many_concurrent_requests(
    settings: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant = await new_merchant(engine)
    seen: list[bytes] = []

    async def counted(unit: Any, secret_hash: bytes) -> Any:
        seen.append(secret_hash)
        await asyncio.sleep(0.05)  # a slow database: the other requests arrive meanwhile
        return await key_owner(unit, secret_hash)

    monkeypatch.setattr("cauri.api.auth.key_owner", counted)
    app = create_app(settings.model_copy(update={"key_cache_seconds": 60}), engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cauri.test") as client:
        answers = await asyncio.gather(*(client.get("/v1/payments", headers=merchant.headers) for _ in range(12)))
    await app.state.gateway.key_usage.settle()
    assert [a.status_code for a in answers] == [200] * 12
    assert len(seen) == 1
