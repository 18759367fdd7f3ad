"""/openapi.json describes what the API really answers: a schemathesis run against a live server on each
database, with zero 5xx and every answer conforming to the document."""

from __future__ import annotations

import re

import httpx
import orjson
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
from tests.conftest import MerchantApp

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
        "POST /v1/payouts/initialize",
        "GET /v1/payouts",
        "GET /v1/payouts/{payout_id}/verify",
        "GET /v1/payouts/{payout_id}",
        "GET /utils/payment/methods",
        "GET /utils/payout/methods",
        "POST /v1/webhooks",
        "GET /v1/webhooks",
        "DELETE /v1/webhooks/{endpoint_id}",
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

        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
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
