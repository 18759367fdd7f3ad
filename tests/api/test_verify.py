"""GET /v1/payments/{id}/verify and GET /v1/payments/{id}: the object Moneroo's clients read."""

from __future__ import annotations

import re

import httpx

from tests.conftest import MerchantApp, payment_body

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


async def test_verify_returns_the_contract_shape(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    created = await client.post(
        "/v1/payments/initialize",
        json=payment_body(amount=200, currency="XOF", metadata={"order_id": "124"}, methods=["mtn_bj"]),
        headers=merchant.headers,
    )
    payment_id = created.json()["data"]["id"]
    response = await client.get(f"/v1/payments/{payment_id}/verify", headers=merchant.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Payment transaction fetched successfully!"
    assert body["success"] is True
    data = body["data"]
    assert data["id"] == payment_id
    assert data["status"] == "initiated"
    assert data["is_processed"] is False
    assert data["processed_at"] is None
    assert data["amount"] == 200
    assert data["amount_formatted"] == "XOF 200"
    assert data["currency"] == {
        "code": "XOF",
        "name": "CFA Franc BCEAO",
        "symbol": "XOF",
        "symbol_first": False,
        "decimals": 0,
        "decimal_mark": ",",
        "thousands_separator": ".",
        "subunit": "Centime",
        "subunit_to_unit": 100,
        "symbol_native": "XOF",
        "decimal_digits": 0,
        "rounding": 0,
        "name_plural": "CFA francs BCEAO",
        "icon_url": None,
    }
    assert data["description"] == "Payment for order #123"
    assert data["return_url"] == "https://example.com/payments/thank-you"
    assert data["environment"] == "sandbox"
    assert data["metadata"] == {"order_id": "124"}
    assert data["app"]["id"] == merchant.id
    assert data["app"]["is_enabled"] is True
    customer = data["customer"]
    assert {k: customer[k] for k in ("first_name", "last_name", "email", "phone", "country_code", "zip_code")} == {
        "first_name": "John",
        "last_name": "Doe",
        "email": "john@example.com",
        "phone": None,
        "country_code": None,
        "zip_code": None,
    }
    assert data["capture"] is None
    assert data["checkout_url"] == f"http://cauri.test/checkout/{payment_id}"
    assert data["payment_phone_number"] is None
    for stamp in (
        data["initiated_at"],
        data["created_at"],
        customer["created_at"],
        data["app"]["created_at"],
    ):
        assert STAMP.fullmatch(stamp), stamp


async def test_retrieve_returns_the_same_object_as_verify(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    created = await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
    payment_id = created.json()["data"]["id"]
    verify = await client.get(f"/v1/payments/{payment_id}/verify", headers=merchant.headers)
    retrieve = await client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)
    assert retrieve.status_code == 200
    assert retrieve.json() == verify.json()


async def test_get_requests_ignore_a_json_body(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    # Moneroo's PHP SDK sends "[]" as the body of its GET requests.
    created = await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
    payment_id = created.json()["data"]["id"]
    response = await client.request(
        "GET",
        f"/v1/payments/{payment_id}/verify",
        content="[]",
        headers={**merchant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200


async def test_unknown_payment_is_404_in_the_envelope(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    for path in (
        "/v1/payments/py_doesnotexist0/verify",
        "/v1/payments/py_doesnotexist0",
        "/v1/payments/%00x/verify",
    ):
        response = await client.get(path, headers=merchant.headers)
        assert response.status_code == 404, path
        assert response.json()["success"] is False
        assert response.json()["message"]


async def test_non_ascii_fields_round_trip_unescaped(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    body = payment_body(
        description="Commande n°12 — café & thé",
        customer={"email": "aïcha@exemple.sn", "first_name": "Aïcha", "last_name": "N'Diaye"},
        metadata={"note": "</script><b>x</b>"},
    )
    created = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    response = await client.get(f"/v1/payments/{created.json()['data']['id']}", headers=merchant.headers)
    assert "Commande n°12 — café & thé".encode() in response.content  # not \\u-escaped, like JSON.stringify
    assert b"</script>" in response.content  # JSON carries the text as is; pages must escape it
    assert response.json()["data"]["customer"]["first_name"] == "Aïcha"
