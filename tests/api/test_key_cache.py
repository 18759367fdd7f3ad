"""The in-process key cache: it spares a query per request, never outlives its TTL, and never extends a key's
life past its own expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.api.auth import KeyCache
from cauri.app import create_app
from cauri.domain.payments import Environment
from cauri.services.apps import revoke_key, rotate_key
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
