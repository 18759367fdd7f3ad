"""Whatever goes wrong at the HTTP level is answered in the envelope: 404, 405, and no 500 leaks."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import MerchantApp


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/v1/utils/payment/methods", "/v2/payments/initialize"])
async def test_unknown_routes_are_404_in_moneroo_wording(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    body = response.json()
    assert body == {
        "success": False,
        "message": f"The route {path.lstrip('/')} could not be found.",
        "data": None,
        "errors": None,
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/payments/initialize", "POST"),
        ("PUT", "/v1/payments/initialize", "POST"),
        ("POST", "/v1/payments", "GET"),
        ("DELETE", "/v1/payments/py_abc123abc123", "GET"),
        ("GET", "/v1/payments/py_abc123abc123/process", "POST"),
        ("POST", "/utils/payment/methods", "GET"),
    ],
)
async def test_wrong_methods_are_405(
    client: httpx.AsyncClient, merchant: MerchantApp, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path, headers=merchant.headers)
    assert response.status_code == 405
    assert allowed in response.headers["allow"]
    assert response.json()["success"] is False
    assert method in response.json()["message"]


async def test_index_points_to_the_api_and_docs(client: httpx.AsyncClient) -> None:
    body = (await client.get("/")).json()
    assert body["data"]["api_url"] == "http://cauri.test/v1"
    assert body["data"]["docs_url"] == "http://cauri.test/docs"


async def test_unknown_checkout_is_a_404_page_that_reflects_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/checkout/<script>alert(1)<")
    assert response.status_code == 404
    assert "<script>alert" not in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
