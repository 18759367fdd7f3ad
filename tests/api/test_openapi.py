"""/openapi.json describes what the API really answers: a schemathesis run against a live server on each
database, with zero 5xx and every answer conforming to the document."""

from __future__ import annotations

import re

import httpx
import jsonschema_rs
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cauri.api.openapi import openapi_document
from tests.conftest import MerchantApp, payment_body

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_docs_page_is_served_locally(live_url: str) -> None:
    page = httpx.get(f"{live_url}/docs")
    assert page.status_code == 200
    assert "/docs/static/swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.split("<body>")[1]  # no third-party script or stylesheet
    assert httpx.get(f"{live_url}/docs/static/swagger-ui-bundle.js").status_code == 200
    assert "/openapi.json" in httpx.get(f"{live_url}/docs/init.js").text


def test_the_document_is_valid_openapi(live_url: str) -> None:
    document = httpx.get(f"{live_url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == {
        "POST /v1/payments/initialize",
        "GET /v1/payments",
        "GET /v1/payments/{payment_id}/verify",
        "GET /v1/payments/{payment_id}",
        "POST /v1/payments/{payment_id}/process",
        "POST /v1/payments/{payment_id}/refund",
        "POST /v1/payouts/initialize",
        "GET /v1/payouts",
        "GET /v1/payouts/{payout_id}/verify",
        "GET /v1/payouts/{payout_id}",
        "GET /v1/balances",
        "GET /v1/rates",
        "PUT /v1/rates/{base}/{quote}",
        "GET /utils/payment/methods",
        "GET /utils/payout/methods",
        "POST /v1/webhooks",
        "GET /v1/webhooks",
        "DELETE /v1/webhooks/{endpoint_id}",
        "POST /v1/providers",
        "GET /v1/providers",
        "DELETE /v1/providers/{account_id}",
        "GET /v1/events",
        "POST /v1/events/{event_id}/resend",
        "GET /v1/deliveries/{delivery_id}",
    }


def test_fuzzing_every_operation_finds_no_5xx_and_no_schema_mismatch(live_url: str, merchant: MerchantApp) -> None:
    schema = schemathesis.openapi.from_dict(httpx.get(f"{live_url}/openapi.json").json())
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    auth = {"Authorization": f"Bearer {merchant.secret}"}
    for result in schema.get_all_operations():
        operation = result.ok()

        # derandomize: the same cases on every run, so CI passes or fails for the code's sake, not the dice's (a
        # NUL byte the dice happened to roll once failed PostgreSQL runs now and then; tests/security covers it).
        @settings(max_examples=40, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=live_url, headers=auth, checks=CHECKS)

        call()


def test_every_named_schema_is_used_and_capture_is_the_object_or_null() -> None:
    document = openapi_document("http://127.0.0.1:8000")
    text = orjson.dumps({key: value for key, value in document.items() if key != "components"}).decode()
    schemas = document["components"]["schemas"]
    used = set(re.findall(r"#/components/schemas/(\w+)", text + orjson.dumps(schemas).decode()))
    assert used == set(schemas), f"unused: {set(schemas) - used}; missing: {used - set(schemas)}"
    capture = schemas["Payment"]["properties"]["capture"]
    assert capture["anyOf"] == [{"$ref": "#/components/schemas/Capture"}, {"type": "null"}]
    assert "Payment" in schemas["WebhookBody"]["properties"]["data"]["$ref"]


def _accepts(schema: dict[str, object], value: object) -> bool:
    """Whether the document's ``schema`` (refs resolved within the document) accepts ``value``."""
    document = openapi_document("http://127.0.0.1:8000")
    root = {**schema, "components": document["components"]}
    return bool(jsonschema_rs.Draft202012Validator(root, validate_formats=True).is_valid(value))


def _request(name: str) -> dict[str, object]:
    return {"$ref": f"#/components/schemas/{name}"}


def _parameter(path: str, method: str, name: str) -> dict[str, object]:
    operation = openapi_document("http://127.0.0.1:8000")["paths"][path][method]
    schema: dict[str, object] = next(p["schema"] for p in operation["parameters"] if p["name"] == name)
    return schema


REFUSED_BODIES = [
    {"amount": "0"}, {"amount": 0}, {"amount": "-5"}, {"amount": 10**12}, {"amount": "1000000000000"},
    {"amount": "1.5"}, {"description": " "}, {"description": "a\x00b"}, {"description": "two\nlines"},
    {"metadata": {"order_id": "1\x002"}}, {"metadata": {"k\x1b": "1"}}, {"return_url": "ftp://example.com"},
    {"return_url": "https://example.com/a b"}, {"restricted_phone": {"number": "1" * 16, "country_code": "BJ"}},
    {"restricted_phone": {"number": "12345", "country_code": "BJ"}},
]  # fmt: skip


@pytest.mark.parametrize("change", REFUSED_BODIES)
async def test_the_document_refuses_the_bodies_the_server_refuses(
    client: httpx.AsyncClient, merchant: MerchantApp, change: dict[str, object]
) -> None:
    body = payment_body(methods=None, **change)
    answer = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
    assert answer.status_code == 422
    assert not _accepts(_request("InitializeRequest"), body)


@pytest.mark.parametrize("body", [{"url": "https://example.com/hook", "events": []},
                                  {"url": "https://example.com/\x00"}, {"url": "https://example.com:99999/"},
                                  {"url": "https://example.com/hook", "secret": "s" * 16 + "\x00"}])  # fmt: skip
async def test_the_document_refuses_the_webhook_endpoints_the_server_refuses(
    client: httpx.AsyncClient, merchant: MerchantApp, body: dict[str, object]
) -> None:
    assert (await client.post("/v1/webhooks", json=body, headers=merchant.headers)).status_code == 422
    assert not _accepts(_request("WebhookEndpointRequest"), body)


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [("/v1/payments", "cursor", ""), ("/v1/payments", "cursor", "not a cursor!"), ("/v1/payments", "status", "paid"),
     ("/v1/payments", "customer_email", "a\x00@example.com"), ("/v1/payments", "customer_email", "a" * 255),
     ("/v1/events", "before", ""), ("/v1/events", "before", "evt_\x00")],
)  # fmt: skip
async def test_the_document_refuses_the_query_values_the_server_refuses(
    client: httpx.AsyncClient, merchant: MerchantApp, path: str, name: str, value: str
) -> None:
    assert (await client.get(path, params={name: value}, headers=merchant.headers)).status_code == 422
    assert not _accepts(_parameter(path, "get", name), value)


@pytest.mark.parametrize("amount", [1, "1500", " +0012.00 ", 1500.0, 999_999_999_999])
async def test_the_document_and_the_server_accept_the_same_amounts(
    client: httpx.AsyncClient, merchant: MerchantApp, amount: object
) -> None:
    body = payment_body(amount=amount)
    assert _accepts(_request("InitializeRequest"), body)
    answer = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
    assert answer.status_code == 201, answer.text
