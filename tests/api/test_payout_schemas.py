"""Real payout answers and payout webhooks, checked against the schemas /openapi.json declares for them (closed
to undeclared fields, as the payments' are in ``test_response_schemas``)."""

from __future__ import annotations

import re
import time

import httpx
import orjson

from cauri.api.openapi import openapi_document
from tests.api.test_payouts import payout_body
from tests.api.test_response_schemas import Contract, gateway, webhook_bodies
from tests.conftest import MerchantApp

__all__ = ["gateway", "webhook_bodies"]  # the fixtures this module borrows


def test_payout_answers_and_webhooks_match_the_documents_schemas(
    gateway: str, merchant: MerchantApp, webhook_bodies: tuple[str, list[bytes]]
) -> None:
    hook_url, bodies = webhook_bodies
    contract = Contract(httpx.get(f"{gateway}/openapi.json").json())
    api = httpx.Client(base_url=gateway, headers=merchant.headers)
    api.post("/v1/webhooks", json={"url": hook_url, "events": ["payout.initiated", "payout.success"]})

    created = api.post("/v1/payouts/initialize", json=payout_body(recipient={"msisdn": "4149518161"}))
    payout_id = contract.check(created, "post", "/v1/payouts/initialize", 201)["data"]["id"]
    demo = payout_body(method="moneroo_payout_demo", currency="USD", recipient={"account_number": "4149518162"})
    contract.check(api.post("/v1/payouts/initialize", json=demo), "post", "/v1/payouts/initialize", 201)
    deadline = time.monotonic() + 15
    while api.get(f"/v1/payouts/{payout_id}").json()["data"]["status"] != "success":
        assert time.monotonic() < deadline, "the payout did not succeed"
        time.sleep(0.05)
    verified = contract.check(api.get(f"/v1/payouts/{payout_id}/verify"), "get", "/v1/payouts/{payout_id}/verify", 200)
    assert verified["data"]["success_at"] is not None
    contract.check(api.get(f"/v1/payouts/{payout_id}"), "get", "/v1/payouts/{payout_id}", 200)
    page = contract.check(api.get("/v1/payouts", params={"limit": 1}), "get", "/v1/payouts", 200)
    assert page["meta"]["has_more"] is True
    contract.check(api.get("/v1/payouts", params={"limit": "x"}), "get", "/v1/payouts", 422)
    contract.check(api.get("/v1/payouts/po_nothing"), "get", "/v1/payouts/{payout_id}", 404)
    contract.check(api.post("/v1/payouts/initialize", json={}), "post", "/v1/payouts/initialize", 422)

    deadline = time.monotonic() + 15
    while b"payout.success" not in b"".join(bodies):
        assert time.monotonic() < deadline, "the payout.success webhook did not arrive"
        time.sleep(0.05)
    [(_, operation)] = contract.document["webhooks"]["payout"].items()
    validator = contract._validator(operation["requestBody"]["content"]["application/json"]["schema"])
    for raw in bodies:
        body = orjson.loads(raw)
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"webhook {body.get('event')}: {errors}"
    assert {orjson.loads(raw)["event"] for raw in bodies} == {"payout.initiated", "payout.success"}


async def test_the_payout_list_parameters_state_the_servers_rules(
    client: httpx.AsyncClient, merchant: MerchantApp
) -> None:
    """What the document lets a client send to ``GET /v1/payouts`` the server takes, and what it refuses the
    server refuses too (a payment's status is not a payout's)."""
    document = openapi_document("http://127.0.0.1")
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/v1/payouts"]["get"]["parameters"]}
    for status, allowed in (("success", True), ("initiated,failed", True), ("cancelled", False), ("nope", False)):
        assert (re.fullmatch(parameters["status"]["pattern"], status) is not None) is allowed, status
        answer = await client.get("/v1/payouts", params={"status": status}, headers=merchant.headers)
        assert (answer.status_code == 200) is allowed, (status, answer.text)
    for name, value in (("customer_email", "a" * 300 + "@example.com"), ("cursor", "")):
        schema = parameters[name]
        assert len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get("minLength", 0), name
        answer = await client.get("/v1/payouts", params={name: value}, headers=merchant.headers)
        assert answer.status_code == 422, (name, answer.text)
