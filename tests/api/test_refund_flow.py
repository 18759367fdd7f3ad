"""Refunds end to end on each database: payments paid on the hosted checkout of a real server, refunded through
the sandbox (its signed notification to the server's own refund callback route) into each final state, every
refund event delivered signed to a real receiver on loopback, answers and webhooks held to the OpenAPI
document, and a refund that stays pending left to reconciliation, which asks the connector."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.base import RefundOutcome
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.services.refunds import reconcile_refunds
from tests.api.test_payout_flow import gateway, wait_for
from tests.api.test_response_schemas import Contract, _pay
from tests.conftest import MerchantApp, payment_body, uow
from tests.outbox.conftest import Receiver, check_signatures

__all__ = ["gateway"]  # the real server fixture, shared with the payout flow
REFUND = "/v1/payments/{payment_id}/refund"
VERIFY = "/v1/payments/{payment_id}/verify"


class AskedSandbox(SandboxConnector):
    def __init__(self) -> None:
        super().__init__(b"secret", 0)
        self.asked: list[str] = []

    async def fetch_refund_status(self, refund: Mapping[Any, Any]) -> RefundOutcome:
        self.asked.append(refund["id"])
        return await super().fetch_refund_status(refund)


async def test_refunds_reach_each_final_state_and_every_event_is_delivered_signed(
    gateway: str, merchant: MerchantApp, receiver: Receiver, engine: AsyncEngine
) -> None:
    api = httpx.AsyncClient(base_url=gateway, headers=merchant.headers)
    contract = Contract((await api.get("/openapi.json")).json())
    endpoint = (await api.post("/v1/webhooks", json={"url": receiver.url})).json()["data"]

    async def paid(phone: str | None) -> str:
        """Paid on the checkout with the succeeding number; ``phone``, the customer's, decides the refund."""
        customer: dict[str, Any] = {"email": "john@example.com", "first_name": "John", "last_name": "Doe"}
        if phone:
            customer["phone"] = phone
        body = payment_body(amount=100, currency="XOF", methods=["mtn_bj"], customer=customer)
        payment_id: str = (await api.post("/v1/payments/initialize", json=body)).json()["data"]["id"]
        _pay(gateway, payment_id)
        return payment_id

    async def payment(payment_id: str) -> dict[str, Any]:
        answer = await api.get(f"/v1/payments/{payment_id}/verify")
        data: dict[str, Any] = contract.check(answer, "get", VERIFY, 200)["data"]
        return data

    async def refund(payment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await api.post(f"/v1/payments/{payment_id}/refund", json=body)
        data: dict[str, Any] = contract.check(answer, "post", REFUND, 201)["data"]
        return data

    accepted, declined, waiting, anyone = [await paid(p) for p in ("4149518161", "4149518162", "4149518163", None)]

    async def all_paid() -> bool:
        return all([(await payment(p))["status"] == "success" for p in (accepted, declined, waiting, anyone)])

    await wait_for(all_paid, "the payments")

    partial = await refund(accepted, {"amount": 40, "reason": "One item returned"})
    failing = await refund(declined, {})
    pending = await refund(waiting, {"amount": 100})
    whole = await refund(anyone, {})
    assert (partial["amount"], failing["amount"], whole["amount"]) == (40, 100, 100)

    async def ended() -> bool:
        statuses = [[r["status"] for r in (await payment(p))["refunds"]] for p in (accepted, declined, anyone)]
        return statuses == [["success"], ["failed"], ["success"]]

    await wait_for(ended, "the refunds' outcomes")
    shown = await payment(accepted)
    assert (shown["amount_refunded"], shown["amount_refundable"]) == (40, 60)
    assert shown["refunds"][0]["reason"] == "One item returned" and shown["refunds"][0]["id"] == partial["id"]
    failed = await payment(declined)
    assert (failed["amount_refunded"], failed["amount_refundable"]) == (0, 100)  # given back: refundable again
    assert failed["refunds"][0]["failure_message"] == "The provider declined the test refund."
    assert (await payment(anyone))["amount_refunded"] == 100
    assert (await api.post(f"/v1/payments/{anyone}/refund", json={"amount": 1})).status_code == 422
    again = await refund(declined, {"amount": 30})  # a failed refund's amount can be refunded again
    assert again["amount"] == 30

    expected = {(accepted, "payment.refunded"), (anyone, "payment.refunded"), (declined, "refund.failed")}

    def received() -> list[tuple[str, str]]:
        events = [orjson.loads(b) for _, b in receiver.received]
        return [(e["data"]["id"], e["event"]) for e in events if e["event"] in ("payment.refunded", "refund.failed")]

    async def all_received() -> bool:
        return set(received()) >= expected and received().count((declined, "refund.failed")) == 2

    await wait_for(all_received, "every refund event's webhook")
    assert sorted(received()) == sorted([*expected, (declined, "refund.failed")])  # nothing for the pending one
    for headers, body in receiver.received:
        check_signatures(headers, body, endpoint["secret"])
        event = contract.check_webhook(body)
        if event["event"] == "payment.refunded":
            assert event["data"]["amount_refunded"] > 0 and event["data"]["refunds"]

    # The refund that stays pending: reconciliation asks its connector, which says it still is.
    assert [r["status"] for r in (await payment(waiting))["refunds"]] == ["pending"]
    sandbox = AskedSandbox()
    await reconcile_refunds(
        uow(engine), ConnectorRegistry(sandbox), older_than=timedelta(0), lease=timedelta(minutes=5),
        callback_base=gateway,
    )  # fmt: skip
    assert pending["id"] in sandbox.asked
    assert not {partial["id"], failing["id"], whole["id"]} & set(sandbox.asked)  # ended refunds are not asked
    assert (await payment(waiting))["amount_refundable"] == 0
    await api.aclose()


def test_forged_or_foreign_refund_notifications_change_nothing(gateway: str) -> None:
    forged = orjson.dumps({"kind": "refund", "refund_id": "rf_x", "status": "success"})
    answer = httpx.post(f"{gateway}/connectors/sandbox/refunds/callback", content=forged,
                        headers={"x-sandbox-signature": "0" * 64})  # fmt: skip
    assert answer.status_code == 400
    assert httpx.post(f"{gateway}/connectors/nobody/refunds/callback", content=forged).status_code == 404
    payout_kind = orjson.dumps({"kind": "payout", "payout_id": "po_x", "status": "success"})
    signed = {"x-sandbox-signature": SandboxConnector(b"unknown", 0).sign(payout_kind)}
    assert httpx.post(f"{gateway}/connectors/sandbox/refunds/callback", content=payout_kind,
                      headers=signed).status_code == 400  # fmt: skip
