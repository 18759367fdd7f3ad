"""POST /v1/payments/initialize: the contract's rules, each with passing and failing cases."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.store.tables import events, payments
from tests.conftest import MerchantApp, payment_body

# The seed page's request, byte for byte as its curl example sends it.
SEED_CURL_BODY = """{
         "amount": 100,
         "currency": "USD",
         "description": "Payment for order #123",
         "customer": {
             "email": "john@example.com",
             "first_name": "John",
             "last_name": "Doe"
         },
         "return_url": "https://example.com/payments/thank-you",
         "metadata": {
             "order_id": "123",
             "customer_id": "123"
         },
         "methods": ["qr_ngn", "bank_transfer_ngn"]
     }"""

# The seed's first JSON example: a comma is missing after return_url.
SEED_BROKEN_BODY = """{
    "amount": 100,
    "currency": "USD",
    "description": "Payment for order #123",
    "customer": {
        "email": "john@example.com",
        "first_name": "John",
        "last_name": "Doe"
    },
    "return_url": "https://example.com/payments/thank-you"
    "metadata": {
        "order_id": "123",
        "customer_id": "123"
    },
    "methods": ["qr_ngn", "bank_transfer_ngn"]
}"""


async def initialize(client: httpx.AsyncClient, merchant: MerchantApp, body: Any, **headers: str) -> httpx.Response:
    return await client.post("/v1/payments/initialize", json=body, headers={**merchant.headers, **headers})


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_seed_curl_request_verbatim_is_created(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    response = await client.post(
        "/v1/payments/initialize",
        content=SEED_CURL_BODY,
        headers={**merchant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Transaction initialized successfully"
    assert body["errors"] is None
    payment_id = body["data"]["id"]
    assert re.fullmatch(r"py_[0-9a-z]{12,}", payment_id)
    assert body["data"]["checkout_url"] == f"http://cauri.test/checkout/{payment_id}"


async def test_seed_json_example_missing_comma_is_a_clear_400(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    before = await count(engine, payments)
    response = await client.post("/v1/payments/initialize", content=SEED_BROKEN_BODY, headers=merchant.headers)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["message"].startswith("The request body is not valid JSON")
    assert "line 11" in body["message"]  # where the comma is missing
    assert await count(engine, payments) == before


async def test_initialize_writes_payment_and_initiated_event_together(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    response = await initialize(client, merchant, payment_body())
    payment_id = response.json()["data"]["id"]
    async with engine.connect() as conn:
        row = (await conn.execute(select(payments).where(payments.c.id == payment_id))).one()
        kinds = (await conn.execute(select(events.c.type).where(events.c.payment_id == payment_id))).scalars().all()
    assert row.status == "initiated"
    assert row.amount == 100
    assert row.app_id == merchant.id
    assert kinds == ["payment.initiated"]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [(5000, 5000), (1500.0, 1500), ("5000.00", 5000), ("1500", 1500), (" 42 ", 42)],
)
async def test_integral_amounts_in_any_form_are_accepted(
    client: httpx.AsyncClient, merchant: MerchantApp, sent: object, stored: int
) -> None:
    response = await initialize(client, merchant, payment_body(amount=sent))
    assert response.status_code == 201, response.text
    verify = await client.get(f"/v1/payments/{response.json()['data']['id']}/verify", headers=merchant.headers)
    assert verify.json()["data"]["amount"] == stored


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        (10.5, "The amount field must be an integer."),
        ("10.50", "The amount field must be an integer."),
        (0, "The amount field must be greater than 0."),
        (-5, "The amount field must be greater than 0."),
        ("abc", "The amount field must be an integer."),
        (True, "The amount field must be an integer."),
        ([100], "The amount field must be an integer."),
        (10**13, "The amount field must not be greater than 999999999999."),
    ],
)
async def test_bad_amounts_are_422_naming_the_field(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine, sent: object, message: str
) -> None:
    before = await count(engine, payments)
    response = await initialize(client, merchant, payment_body(amount=sent))
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == {"amount": [message]}
    assert body["message"] == message
    assert body["success"] is False
    assert await count(engine, payments) == before


async def test_woocommerce_style_body_is_accepted(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    body = payment_body(
        amount="5000.00",
        currency="XOF",
        methods=None,
        customer={
            "email": "client@boutique.bj",
            "first_name": "Awa",
            "last_name": "Dossou",
            "phone": 22951345780,
            "address": "",
            "city": "Cotonou",
            "country": "BJ",
            "zip": None,
        },
        metadata={"order_id": "5123", "customer_id": "77"},
    )
    response = await initialize(client, merchant, body)
    assert response.status_code == 201, response.text
    data = (await client.get(f"/v1/payments/{response.json()['data']['id']}", headers=merchant.headers)).json()["data"]
    assert data["customer"]["phone"] == "22951345780"
    assert data["customer"]["address"] is None
    assert data["customer"]["country_code"] == "BJ"
    assert data["customer"]["country"] == "Benin"
    assert data["amount"] == 5000


async def test_every_missing_required_field_is_reported_at_once(
    client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    response = await initialize(client, merchant, {})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"amount", "currency", "description", "return_url", "customer"}
    assert errors["amount"] == ["The amount field is required."]
    assert response.json()["message"] == "The amount field is required. (and 4 more errors)"


async def test_nested_customer_errors_use_dotted_names(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    response = await initialize(
        client,
        merchant,
        payment_body(customer={"email": "not-an-email", "first_name": "", "last_name": "x" * 101}),
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "customer.email": ["The customer.email field must be a valid email address."],
        "customer.first_name": ["The customer.first_name field is required."],
        "customer.last_name": ["The customer.last_name field must not be greater than 100 characters."],
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "EUX"}, "currency"),
        ({"currency": 952}, "currency"),
        ({"description": ""}, "description"),
        ({"description": "x" * 156}, "description"),
        ({"return_url": "javascript:alert(1)"}, "return_url"),
        ({"return_url": "/relative/path"}, "return_url"),
        ({"return_url": "https://exa mple.com"}, "return_url"),
        ({"customer": "john@example.com"}, "customer"),
        (
            {"customer": {"email": "a@b.co", "first_name": "A", "last_name": "B", "phone": "call me"}},
            "customer.phone",
        ),
        (
            {"customer": {"email": "a@b.co", "first_name": "A", "last_name": "B", "country": "Benin"}},
            "customer.country",
        ),
        ({"metadata": {"order_id": 124}}, "metadata.order_id"),
        ({"metadata": {str(i): "v" for i in range(11)}}, "metadata"),
        ({"metadata": "order=1"}, "metadata"),
        ({"methods": ["mtn_bj", "paypal"]}, "methods.1"),
        ({"methods": "mtn_bj"}, "methods"),
        ({"restrict_country_code": "XX"}, "restrict_country_code"),
        ({"restricted_phone": {"number": "22951345780"}}, "restricted_phone.country_code"),
        ({"restricted_phone": {"country_code": "BJ"}}, "restricted_phone.number"),
        ({"restricted_phone": {"number": "phone", "country_code": "BJ"}}, "restricted_phone.number"),
        (
            {
                "restrict_country_code": "BJ",
                "restricted_phone": {"number": "22951345780", "country_code": "BJ"},
            },
            "restrict_country_code",
        ),
    ],
)
async def test_rule_violations_name_their_field(
    client: httpx.AsyncClient, merchant: MerchantApp, overrides: dict[str, object], field: str
) -> None:
    response = await initialize(client, merchant, payment_body(**overrides))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert field in errors
    assert all(isinstance(m, str) and m for m in errors[field])


@pytest.mark.parametrize(
    "overrides",
    [
        {"metadata": []},  # the Flutter SDK's "none"
        {"metadata": None},
        {"methods": ["mtn_gf", "airtel_gh", "bank_transfer_ngn", "mobi_cash_bf"]},  # aliases and mobi_cash_bf
        {"methods": []},
        {"currency": "xof"},
        {"restrict_country_code": "bj", "currency": "XOF"},
        {"restricted_phone": {"number": "22951345780", "country_code": "BJ"}, "currency": "XOF"},
        {"restricted_phone": {"number": 22951345780, "country_code": "229"}, "currency": "XOF"},
        {"restricted_phone": {"number": "22951345780", "country_code": "+229"}, "currency": "XOF"},
        {"customer": {"email": "a@b.co", "first_name": "A", "last_name": "B", "phone": None}},
        {"return_url": "https://shop.example/return?order=12&lang=fr"},
        {"unknown_field": "ignored"},
    ],
)
async def test_contract_leniencies_are_accepted(
    client: httpx.AsyncClient, merchant: MerchantApp, overrides: dict[str, object]
) -> None:
    body = payment_body()
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}
    response = await initialize(client, merchant, body)
    assert response.status_code == 201, response.text


async def test_aliases_are_stored_as_their_canonical_codes(
    client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine
) -> None:
    response = await initialize(client, merchant, payment_body(methods=["mtn_gf", "mtn_gn", "bank_transfer_ngn"]))
    async with engine.connect() as conn:
        methods = (
            await conn.execute(select(payments.c.methods).where(payments.c.id == response.json()["data"]["id"]))
        ).scalar_one()
    assert methods == ["mtn_gn", "bank_transfer_ng"]


@pytest.mark.parametrize("body", ["[]", "42", '"text"', "null"])
async def test_a_body_that_is_not_an_object_is_400(client: httpx.AsyncClient, merchant: MerchantApp, body: str) -> None:
    response = await client.post("/v1/payments/initialize", content=body, headers=merchant.headers)
    assert response.status_code == 400
    assert response.json()["message"] == "The request body must be a JSON object."


async def test_json_is_read_whatever_the_content_type_says(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    response = await client.post(
        "/v1/payments/initialize",
        content=SEED_CURL_BODY,
        headers={**merchant.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201


async def test_oversized_body_is_413_in_the_envelope(
    client: httpx.AsyncClient, merchant: MerchantApp, settings: object
) -> None:
    body = payment_body(description="x" * 100_000)
    response = await initialize(client, merchant, body)
    assert response.status_code == 413
    assert response.json()["success"] is False
    assert "bytes allowed" in response.json()["message"]


async def test_responses_carry_a_request_id(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    first = await initialize(client, merchant, payment_body())
    second = await initialize(client, merchant, payment_body())
    assert first.headers["x-request-id"].startswith("req_")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    echoed = await client.get("/utils/payment/methods", headers={"X-Request-Id": "trace-1234567"})
    assert echoed.headers["x-request-id"] == "trace-1234567"
