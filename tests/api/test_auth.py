"""Keys: missing, invalid, expired, revoked; sandbox and live never see each other's payments."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.payments import Environment
from cauri.services.apps import revoke_key, rotate_key
from tests.conftest import MerchantApp, new_merchant, payment_body, uow


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer pvk_sandbox_nope|nope",
        "Bearer pvk_sandbox_é|ñ".encode(),
    ],
)
async def test_missing_or_invalid_keys_are_401(client: httpx.AsyncClient, header: str | bytes | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for method, path in (
        ("POST", "/v1/payments/initialize"),
        ("GET", "/v1/payments"),
        ("GET", "/v1/payments/py_x/verify"),
    ):
        response = await client.request(method, path, json=payment_body(), headers=headers)
        assert response.status_code == 401, (header, path)
        assert response.json()["success"] is False
        assert response.json()["message"].startswith("Unauthenticated")


async def test_key_format_keeps_moneroo_prefixes(engine: AsyncEngine) -> None:
    sandbox = await new_merchant(engine)
    live = await new_merchant(engine, live=True)
    assert sandbox.secret.startswith("pvk_sandbox_")
    assert live.secret.startswith("pvk_") and not live.secret.startswith("pvk_sandbox")
    assert len(sandbox.secret.split("|", 1)[1]) >= 40


async def test_sandbox_and_live_are_isolated(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    sandbox = await new_merchant(engine)
    live_key = (await rotate_key(uow(engine), sandbox.id, Environment.LIVE, timedelta(0)))[1]
    live = MerchantApp(sandbox.id, live_key.secret)
    created = await client.post("/v1/payments/initialize", json=payment_body(), headers=sandbox.headers)
    payment_id = created.json()["data"]["id"]

    assert (await client.get(f"/v1/payments/{payment_id}/verify", headers=live.headers)).status_code == 404
    assert (await client.post(f"/v1/payments/{payment_id}/process", headers=live.headers)).status_code == 404
    assert (await client.get("/v1/payments", headers=live.headers)).json()["data"] == []
    own = await client.get(f"/v1/payments/{payment_id}/verify", headers=sandbox.headers)
    assert own.json()["data"]["environment"] == "sandbox"

    live_created = await client.post("/v1/payments/initialize", json=payment_body(), headers=live.headers)
    live_id = live_created.json()["data"]["id"]
    assert (await client.get(f"/v1/payments/{live_id}", headers=live.headers)).json()["data"]["environment"] == "live"
    assert (await client.get(f"/v1/payments/{live_id}", headers=sandbox.headers)).status_code == 404


async def test_another_apps_payment_is_not_found(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    mine = await new_merchant(engine)
    theirs = await new_merchant(engine)
    created = await client.post("/v1/payments/initialize", json=payment_body(), headers=theirs.headers)
    payment_id = created.json()["data"]["id"]
    assert (await client.get(f"/v1/payments/{payment_id}", headers=mine.headers)).status_code == 404


async def test_rotation_keeps_the_old_key_for_the_grace_period_only(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    merchant = await new_merchant(engine)
    new_key = (await rotate_key(uow(engine), merchant.id, Environment.SANDBOX, timedelta(hours=1)))[1]
    rotated = MerchantApp(merchant.id, new_key.secret)
    assert (await client.get("/v1/payments", headers=merchant.headers)).status_code == 200
    assert (await client.get("/v1/payments", headers=rotated.headers)).status_code == 200

    newest = (await rotate_key(uow(engine), merchant.id, Environment.SANDBOX, timedelta(0)))[1]
    assert (await client.get("/v1/payments", headers=merchant.headers)).status_code == 401
    assert (await client.get("/v1/payments", headers=rotated.headers)).status_code == 401
    latest = MerchantApp(merchant.id, newest.secret)
    assert (await client.get("/v1/payments", headers=latest.headers)).status_code == 200


async def test_a_revoked_key_is_refused(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    merchant = await new_merchant(engine)
    assert (await client.get("/v1/payments", headers=merchant.headers)).status_code == 200
    prefix = merchant.secret.split("|", 1)[0]
    assert await revoke_key(uow(engine), prefix) == 1
    response = await client.get("/v1/payments", headers=merchant.headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


async def test_rate_limit_answers_429_with_retry_after(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    merchant = await new_merchant(engine, rate_limit=3)
    codes = [(await client.get("/v1/payments", headers=merchant.headers)).status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 429
    limited = await client.get("/v1/payments", headers=merchant.headers)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["success"] is False
