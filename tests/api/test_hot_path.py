"""Initialize goes through its own door (``api/hot_path.py``), past Starlette's router and exception layers: its
failures must still be answered as every other route's are."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.api import payments as payments_api
from cauri.app import create_app
from cauri.domain.errors import Conflict
from cauri.settings import Settings
from tests.conftest import MerchantApp, payment_body

PATH = "/v1/payments/initialize"


@contextlib.asynccontextmanager
async def client_of(app: Any, *, raise_app_exceptions: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
        yield client
    await app.state.gateway.key_usage.settle()  # the transport runs no lifespan, which would wait for these


async def test_an_unexpected_failure_is_a_500_envelope_logged_and_raised_to_the_server(
    settings: Settings,
    engine: AsyncEngine,
    merchant: MerchantApp,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("an unexpected failure")

    monkeypatch.setattr(payments_api, "initialize_payment", broken)
    app = create_app(settings, engine)
    async with client_of(app) as client:
        answer = await client.post(PATH, json=payment_body(), headers=merchant.headers)
    assert answer.status_code == 500
    assert answer.json() == {"success": False, "message": "Server error.", "data": None, "errors": None}
    assert answer.headers["x-request-id"] and answer.headers["x-content-type-options"] == "nosniff"
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert any(line["msg"] == "unhandled error" and "an unexpected failure" in line["exc"] for line in logged)
    # Raised again after the answer, as Starlette's server-error layer does, for the server to log.
    async with client_of(app, raise_app_exceptions=True) as client:
        with pytest.raises(RuntimeError, match="an unexpected failure"):
            await client.post(PATH, json=payment_body(), headers=merchant.headers)


async def test_a_domain_error_is_answered_by_its_own_handler_and_not_raised(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def locked(*_args: Any, **_kwargs: Any) -> Any:
        raise Conflict("A request with this Idempotency-Key is still being processed; retry later.")

    monkeypatch.setattr(payments_api, "initialize_payment", locked)
    async with client_of(create_app(settings, engine), raise_app_exceptions=True) as client:
        answer = await client.post(PATH, json=payment_body(), headers=merchant.headers)
    assert answer.status_code == 409
    assert answer.json()["message"] == "A request with this Idempotency-Key is still being processed; retry later."
    assert answer.headers["x-request-id"]


async def test_a_client_gone_before_its_body_is_not_a_server_error(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    app = create_app(settings, engine)
    sent: list[dict[str, Any]] = []
    headers = [(b"authorization", f"Bearer {merchant.secret}".encode()), (b"host", b"cauri.test")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": PATH, "raw_path": PATH.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("cauri.test", 80)}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    await app.state.gateway.key_usage.settle()
    assert sent[0]["status"] == 499


async def test_other_methods_and_paths_still_go_through_the_router(
    client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    wrong_method = await client.get(PATH, headers=merchant.headers)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["message"].startswith("The GET method is not supported for route v1/payments/initialize")
    assert (await client.post(PATH + "/", json=payment_body(), headers=merchant.headers)).status_code in (307, 404)
    created = await client.post(PATH, json=payment_body(), headers=merchant.headers)
    assert created.status_code == 201 and created.json()["data"]["id"].startswith("py_")
