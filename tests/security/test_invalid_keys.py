"""Made-up API keys: a flood of them cannot push good keys out of the key cache, and an address that keeps
presenting bad keys is throttled (429, in the envelope) before any lookup, without locking out anyone else."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

import cauri.api.auth
from cauri.api.auth import FailureThrottle, KeyCache
from cauri.api.errors import ApiError
from cauri.app import create_app
from cauri.domain.keys import hash_secret
from cauri.services.apps import key_owner, revoke_key
from cauri.settings import Settings
from tests.conftest import MerchantApp, new_merchant, uow

ATTACKER = "203.0.113.66"
ACCEPT = {"Accept": "application/json"}


def bogus() -> dict[str, str]:
    return {"Authorization": f"Bearer pvk_sandbox_{secrets.token_hex(4)}|{secrets.token_hex(20)}", **ACCEPT}


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The key lookups that reach the service layer (the real one still answers)."""
    seen: list[bytes] = []

    async def counted(unit: Any, secret_hash: bytes) -> Any:
        seen.append(secret_hash)
        return await key_owner(unit, secret_hash)

    monkeypatch.setattr(cauri.api.auth, "key_owner", counted)
    return seen


def gateway(settings: Settings, engine: AsyncEngine, **update: object) -> Starlette:
    # Requests come from a trusted proxy, so each can name its own client in X-Forwarded-For.
    return create_app(settings.model_copy(update={"trusted_proxies": "127.0.0.1", **update}), engine)


def from_address(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://cauri.test", headers={"X-Forwarded-For": address})


def test_a_flood_of_unknown_keys_keeps_the_valid_ones_cached() -> None:
    cache = KeyCache(ttl=60)
    good = hash_secret("a good key")
    owner: Any = object()  # the cache stores owners without looking inside them
    cache.put(good, owner)
    for _ in range(25_000):  # past the 10,000 entries at which the old cache cleared itself
        cache.put(secrets.token_bytes(32), None)
    assert cache.get(good) == (True, owner)
    assert len(cache._unknown) <= cache.max_unknown  # and the flood's memory stays bounded


def test_unknown_keys_are_evicted_oldest_first() -> None:
    cache = KeyCache(ttl=60, max_unknown=3)
    first, *rest = (secrets.token_bytes(32) for _ in range(4))
    for secret_hash in (first, *rest):
        cache.put(secret_hash, None)
    assert cache.get(first) == (False, None)
    assert all(cache.get(h) == (True, None) for h in rest)


async def test_a_flood_from_many_addresses_does_not_cost_good_keys_their_cache_entry(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp, lookups: list[bytes]
) -> None:
    app = gateway(settings, engine, key_cache_seconds=60)
    app.state.gateway.keys = KeyCache(ttl=60, max_unknown=16)  # a small cache, to overflow it quickly
    async with from_address(app, "203.0.113.1") as client:
        assert (await client.get("/v1/payments", headers=merchant.headers)).status_code == 200
    for n in range(40):
        async with from_address(app, f"198.51.100.{n}") as attacker:
            assert (await attacker.get("/v1/payments", headers=bogus())).status_code == 401
    assert len(lookups) == 41
    async with from_address(app, "203.0.113.1") as client:
        assert (await client.get("/v1/payments", headers=merchant.headers)).status_code == 200
    assert len(lookups) == 41  # served from the cache


async def test_an_address_sending_bad_keys_is_throttled_before_any_lookup(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp, lookups: list[bytes]
) -> None:
    app = gateway(settings, engine, auth_failures_per_minute=5)
    async with from_address(app, ATTACKER) as attacker:
        for _ in range(5):
            assert (await attacker.get("/v1/payments", headers=bogus())).status_code == 401
        assert len(lookups) == 5
        throttled = await attacker.post("/v1/payments/initialize", json={}, headers=bogus())
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        body = throttled.json()
        assert body["success"] is False and body["message"].startswith("Too many failed authentications")
        assert len(lookups) == 5  # the sixth key was never looked up
        # A good key this process has not seen from there is refused too: no lookup, so no oracle either.
        assert (await attacker.get("/v1/payments", headers=merchant.headers)).status_code == 429

        # Anyone else is unaffected.
        async with from_address(app, "203.0.113.1") as client:
            assert (await client.get("/v1/payments", headers=merchant.headers)).status_code == 200


async def test_a_good_key_sharing_a_throttled_address_keeps_working(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    """A merchant whose servers share an address (a NAT) with a misconfigured or hostile client."""
    app = gateway(settings, engine, auth_failures_per_minute=3)
    async with from_address(app, ATTACKER) as shared:
        assert (await shared.get("/v1/payments", headers=merchant.headers)).status_code == 200
        for _ in range(3):
            assert (await shared.get("/v1/payments", headers=bogus())).status_code == 401
        assert (await shared.get("/v1/payments", headers=bogus())).status_code == 429
        assert (await shared.get("/v1/payments", headers=merchant.headers)).status_code == 200


async def test_revoked_keys_count_as_failures(settings: Settings, engine: AsyncEngine) -> None:
    revoked = await new_merchant(engine)
    await revoke_key(uow(engine), revoked.secret.split("|")[0])
    app = gateway(settings, engine, auth_failures_per_minute=2)
    async with from_address(app, ATTACKER) as client:
        statuses = [(await client.get("/v1/payments", headers=revoked.headers)).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]


def test_the_throttle_forgets_failures_after_its_window(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("cauri.api.auth.time.monotonic", lambda: now[0])
    throttle = FailureThrottle(limit=2)
    throttle.record(ATTACKER)
    now[0] += 30
    throttle.record(ATTACKER)
    with pytest.raises(ApiError) as refused:
        throttle.check(ATTACKER)
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "30"}
    throttle.check("203.0.113.1")  # another address: no failures
    now[0] += 30.5  # the first failure is past the minute
    throttle.check(ATTACKER)
