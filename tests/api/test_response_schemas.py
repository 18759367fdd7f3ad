"""Real answers, checked against the schemas /openapi.json declares for them.

The document is closed for this check (every object gets ``additionalProperties: false``), so a field the
server sends and the document forgets fails as surely as a field typed wrongly. The payment is paid for real:
the hosted checkout's form, the sandbox connector, its signed notification, the dispatcher's webhooks.
"""

from __future__ import annotations

import copy
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.app import create_app
from cauri.settings import Settings
from tests.conftest import MerchantApp, payment_body, serving

Document = dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def webhook_bodies() -> Iterator[tuple[str, list[bytes]]]:
    """A merchant's webhook receiver on loopback: its URL and the raw bodies it got."""
    bodies: list[bytes] = []

    async def receive(request: Request) -> Response:
        bodies.append(await request.body())
        return Response("ok")

    with serving(Starlette(routes=[Route("/hooks", receive, methods=["POST"])]), _free_port()) as url:
        yield f"{url}/hooks", bodies


@pytest.fixture
def gateway(settings: Settings) -> Iterator[str]:
    """A real server that reaches itself (the sandbox notifies ``internal_url``) and runs its dispatcher."""
    port = _free_port()
    update = {"public_url": f"http://127.0.0.1:{port}", "port": port, "sandbox_delay_seconds": 0.0,
              "log_level": "warning"}  # fmt: skip
    with serving(create_app(settings.model_copy(update=update)), port) as url:
        yield url


def _closed(schema: Any) -> Any:
    """The schema with every described object closed to undeclared properties."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


class Contract:
    """Validators for the document's response (and webhook) schemas, references resolved in the document."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self._components = _closed(copy.deepcopy(document["components"]))

    def _validator(self, schema: dict[str, Any]) -> Any:
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **_closed(schema)}
        root["components"] = self._components
        return jsonschema_rs.validator_for(root, validate_formats=True)

    def check(self, response: httpx.Response, method: str, path: str, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        answers = self.document["paths"][path][method]["responses"]
        schema = answers[str(status)]["content"]["application/json"]["schema"]
        body: dict[str, Any] = response.json()
        errors = [f"{e.instance_path}: {e.message}" for e in self._validator(schema).iter_errors(body)]
        assert not errors, f"{method.upper()} {path} {status}: {errors}"
        return body

    def check_webhook(self, raw: bytes) -> dict[str, Any]:
        [(_, operation)] = self.document["webhooks"]["payment"].items()
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        body: dict[str, Any] = orjson.loads(raw)
        errors = [f"{e.instance_path}: {e.message}" for e in self._validator(schema).iter_errors(body)]
        assert not errors, f"webhook {body.get('event')}: {errors}"
        return body


def _pay(url: str, payment_id: str) -> None:
    """What a customer does on the hosted page: choose MTN Benin, type the sandbox's succeeding number."""
    with httpx.Client(base_url=url) as browser:
        page = browser.get(f"/checkout/{payment_id}")
        assert page.status_code == 200
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        paid = browser.post(f"/checkout/{payment_id}/pay", data={"csrf": token, "method": "mtn_bj",
                                                                 "phone": "4149518161"})  # fmt: skip
        assert paid.status_code in (200, 303), paid.text


def _wait_for(condition: Any, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_real_answers_and_webhooks_match_the_documents_schemas(
    gateway: str, merchant: MerchantApp, webhook_bodies: tuple[str, list[bytes]]
) -> None:
    hook_url, bodies = webhook_bodies
    contract = Contract(httpx.get(f"{gateway}/openapi.json").json())
    api = httpx.Client(base_url=gateway, headers=merchant.headers)

    endpoint = api.post("/v1/webhooks", json={"url": hook_url})
    contract.check(endpoint, "post", "/v1/webhooks", 201)
    contract.check(api.get("/v1/webhooks"), "get", "/v1/webhooks", 200)

    created = api.post("/v1/payments/initialize", json=payment_body(currency="XOF", methods=["mtn_bj"]))
    payment_id = contract.check(created, "post", "/v1/payments/initialize", 201)["data"]["id"]
    verify = "/v1/payments/{payment_id}/verify"
    fresh = contract.check(api.get(f"/v1/payments/{payment_id}/verify"), "get", verify, 200)["data"]
    assert fresh["capture"] is None

    _pay(gateway, payment_id)
    _wait_for(lambda: api.get(f"/v1/payments/{payment_id}/verify").json()["data"]["status"] == "success", "payment")
    paid = contract.check(api.get(f"/v1/payments/{payment_id}/verify"), "get", verify, 200)["data"]
    assert paid["capture"]["gateway"]["transaction_status"] == "success"  # the object the document must allow
    contract.check(api.get(f"/v1/payments/{payment_id}"), "get", "/v1/payments/{payment_id}", 200)
    processed = api.post(f"/v1/payments/{payment_id}/process")
    assert contract.check(processed, "post", "/v1/payments/{payment_id}/process", 200)["data"]["is_processed"]

    page = contract.check(api.get("/v1/payments", params={"limit": 5}), "get", "/v1/payments", 200)
    assert [p["id"] for p in page["data"]] == [payment_id] and page["data"][0]["capture"] is not None

    _wait_for(lambda: b"payment.success" in b"".join(bodies), "the payment.success webhook")
    events = [contract.check_webhook(raw)["event"] for raw in bodies]
    assert {"payment.initiated", "payment.success"} <= set(events)
    listed = contract.check(api.get("/v1/events"), "get", "/v1/events", 200)["data"]
    delivery_id = next(d["id"] for e in listed for d in e["deliveries"])
    contract.check(api.get(f"/v1/deliveries/{delivery_id}"), "get", "/v1/deliveries/{delivery_id}", 200)
    resent = api.post(f"/v1/events/{listed[0]['id']}/resend")
    contract.check(resent, "post", "/v1/events/{event_id}/resend", 200)

    contract.check(api.get("/utils/payment/methods"), "get", "/utils/payment/methods", 200)
    contract.check(api.get("/utils/payout/methods"), "get", "/utils/payout/methods", 200)


def test_error_envelopes_match_the_documents_schemas(gateway: str, merchant: MerchantApp) -> None:
    contract = Contract(httpx.get(f"{gateway}/openapi.json").json())
    api = httpx.Client(base_url=gateway, headers=merchant.headers)
    verify = "/v1/payments/{payment_id}/verify"

    stranger = httpx.get(f"{gateway}/v1/payments/py_nothing/verify", headers={"Authorization": "Bearer pvk_nope"})
    contract.check(stranger, "get", verify, 401)
    contract.check(api.get("/v1/payments/py_nothing/verify"), "get", verify, 404)
    invalid = contract.check(api.post("/v1/payments/initialize", json={"amount": "a lot"}), "post",
                             "/v1/payments/initialize", 422)  # fmt: skip
    assert "amount" in invalid["errors"] and "customer" in invalid["errors"]
    unpaid = api.post("/v1/payments/initialize", json=payment_body()).json()["data"]["id"]
    contract.check(api.post(f"/v1/payments/{unpaid}/process"), "post", "/v1/payments/{payment_id}/process", 422)
    contract.check(api.get("/v1/payments", params={"limit": "0"}), "get", "/v1/payments", 422)
