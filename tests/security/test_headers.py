"""Every answer carries the security headers (no sniffing, no referrer, no framing), each exactly once: API
JSON, errors of every kind, unknown routes, the docs, health, static files, the checkout. Pages with their own
Content-Security-Policy keep it."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.app import create_app
from cauri.settings import Settings
from tests.conftest import MerchantApp, payment_body

EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def assert_protected(response: httpx.Response) -> str:
    """The common headers, once each, and a CSP that forbids framing; the CSP, for the caller to look at."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    for name, value in EVERYWHERE.items():
        assert response.headers.get_list(name) == [value], where
    csp = response.headers.get_list("content-security-policy")
    assert len(csp) == 1 and "frame-ancestors 'none'" in csp[0], where
    return csp[0]


async def boom(_request: Request) -> Response:
    raise RuntimeError("an unexpected failure")


async def test_every_kind_of_answer_carries_the_security_headers(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    app = create_app(settings, engine)
    app.router.routes.append(Route("/boom", boom))  # an unhandled exception: Starlette's outermost 500
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
        created = await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
        assert created.status_code == 201
        payment_id = created.json()["data"]["id"]
        answers = [
            created,
            await client.get("/"),
            await client.get(f"/v1/payments/{payment_id}/verify", headers=merchant.headers),
            await client.get("/v1/payments"),  # 401
            await client.post("/v1/payments/initialize", content=b"{", headers=merchant.headers),  # 400
            await client.post("/v1/payments/initialize", json={}, headers=merchant.headers),  # 422
            await client.get("/no/such/route"),  # 404
            await client.delete("/v1/payments"),  # 405
            await client.get("/boom"),  # 500
            await client.get("/healthz"),
            await client.get("/openapi.json"),
            await client.get("/docs/init.js"),
            await client.get("/docs/static/swagger-ui.css"),
            await client.get("/utils/payment/methods"),
            await client.get(f"/checkout/{payment_id}/status"),
            await client.get("/checkout/py_doesnotexist"),  # the checkout's 404 page
            await client.post("/connectors/sandbox/callback", content=b"{}"),  # 400
        ]
        statuses = [answer.status_code for answer in answers]
        assert {401, 400, 422, 404, 405, 500} <= set(statuses)
        for answer in answers:
            csp = assert_protected(answer)
            # The request id too, once: the 500 included (the log line of its request names the same id).
            assert len(answer.headers.get_list("x-request-id")) == 1, answer.request.url.path
            if answer.headers.get("content-type", "").startswith("application/json"):
                assert csp == "default-src 'none'; frame-ancestors 'none'"

        # Pages keep their own, stricter or looser, policy (the docs need Swagger UI's inline styles).
        page = await client.get(f"/checkout/{payment_id}")
        assert "script-src 'self'" in assert_protected(page) and page.headers["cache-control"] == "no-store"
        docs = await client.get("/docs")
        assert "style-src 'self' 'unsafe-inline'" in assert_protected(docs)
