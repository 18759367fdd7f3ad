"""``POST /v1/payments/{id}/refund`` on each database: the rules in the envelope (only a paid payment, never
beyond what it paid, the fields named), several partial refunds, scoping, idempotency, and concurrent refunds
of which exactly those that fit are created."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.base import Outcome
from cauri.domain.attempts import AttemptStatus
from cauri.domain.clock import utcnow
from cauri.services.checkout import apply_outcome
from cauri.store.tables import ledger_entries, refunds
from tests.conftest import MerchantApp, new_merchant, payment_body, record_attempt, uow

#: The sandbox refunds a payment whose customer's phone is this test number, and never answers: the refund
#: stays pending, so what these tests see is what the request did, not a notification racing it.
STAYS_PENDING = "4149518163"


async def paid_payment(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, *, amount: int = 100,
    phone: str | None = STAYS_PENDING,
) -> str:  # fmt: skip
    """A payment paid as the checkout pays it: a sandbox attempt, then the connector's success applied."""
    customer: dict[str, Any] = {"email": "john@example.com", "first_name": "John", "last_name": "Doe"}
    if phone is not None:
        customer["phone"] = phone
    body = payment_body(amount=amount, currency="XOF", methods=["mtn_bj"], customer=customer)
    created = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["data"]["id"]
    now = utcnow()
    attempt_id = "att_" + payment_id[3:]
    await record_attempt(
        engine,
        {
            "id": attempt_id, "payment_id": payment_id, "method": "mtn_bj", "connector": "sandbox",
            "status": "pending", "phone": "4149518161", "card_last4": None, "provider_reference": None,
            "next_action": None, "failure_code": None, "failure_message": None, "client_ip": "127.0.0.1",
            "user_agent": "test", "locale": "fr", "created_at": now, "updated_at": now, "completed_at": None,
        },
    )  # fmt: skip
    assert await apply_outcome(uow(engine), "sandbox", Outcome(attempt_id, AttemptStatus.SUCCESS))
    return payment_id


async def count_refunds(engine: AsyncEngine, payment_id: str) -> int:
    query = select(func.count()).select_from(refunds).where(refunds.c.payment_id == payment_id)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_partial_refunds_up_to_the_amount_paid_and_never_more(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    payment_id = await paid_payment(client, engine, merchant, amount=100)
    url, headers = f"/v1/payments/{payment_id}/refund", merchant.headers

    first = await client.post(url, json={"amount": 30, "reason": "Damaged item"}, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["message"] == "Refund initiated successfully"
    refund = first.json()["data"]
    assert refund["id"].startswith("rf_") and refund["amount"] == 30 and refund["reason"] == "Damaged item"
    assert refund["status"] == "initiated" and refund["failure_message"] is None

    payment = (await client.get(f"/v1/payments/{payment_id}", headers=headers)).json()["data"]
    assert payment["status"] == "success"
    assert (payment["amount_refunded"], payment["amount_refundable"]) == (0, 70)  # pending: set aside, not given
    assert [(r["id"], r["amount"], r["status"]) for r in payment["refunds"]] == [(refund["id"], 30, "pending")]

    too_much = await client.post(url, json={"amount": 71}, headers=headers)
    assert too_much.status_code == 422
    assert too_much.json()["errors"] == {
        "amount": ["The amount field must not be greater than what is left to refund (70 of 100)."]
    }
    rest = await client.post(url, content=b"[]", headers=headers)  # no amount: all that is left
    assert rest.status_code == 201, rest.text
    assert rest.json()["data"]["amount"] == 70 and rest.json()["data"]["reason"] is None
    again = await client.post(url, json={"amount": 1}, headers=headers)
    assert again.status_code == 422
    assert again.json()["errors"] == {"amount": ["The payment's 100 has been refunded already."]}
    assert await count_refunds(engine, payment_id) == 2

    payment = (await client.get(f"/v1/payments/{payment_id}/verify", headers=headers)).json()["data"]
    assert payment["amount_refundable"] == 0 and [r["amount"] for r in payment["refunds"]] == [30, 70]


async def test_only_a_paid_payment_is_refunded(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    created = await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
    payment_id = created.json()["data"]["id"]
    refused = await client.post(f"/v1/payments/{payment_id}/refund", json={"amount": 10}, headers=merchant.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"status": ["Only a successful payment can be refunded; this one is initiated."]}
    assert refused.json()["success"] is False
    verified = (await client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)).json()["data"]
    assert (verified["amount_refunded"], verified["amount_refundable"], verified["refunds"]) == (0, 0, [])


async def test_invalid_fields_are_named_and_nothing_is_stored(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    payment_id = await paid_payment(client, engine, merchant)
    url = f"/v1/payments/{payment_id}/refund"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"amount": 0}, "amount", "The amount field must be greater than 0."),
        ({"amount": -5}, "amount", "The amount field must be greater than 0."),
        ({"amount": 10.5}, "amount", "The amount field must be an integer."),
        ({"amount": "ten"}, "amount", "The amount field must be an integer."),
        ({"reason": "line\nbreak"}, "reason", "The reason field must not contain control characters."),
        ({"reason": "x" * 256}, "reason", "The reason field must not be greater than 255 characters."),
        ({"reason": 5}, "reason", "The reason field must be a string."),
    ]
    for body, name, message in cases:
        answer = await client.post(url, json=body, headers=merchant.headers)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"] == {name: [message]}, body
    assert (await client.post(url, content=b"[1]", headers=merchant.headers)).status_code == 400
    assert await count_refunds(engine, payment_id) == 0


async def test_another_apps_payment_is_not_found(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    payment_id = await paid_payment(client, engine, merchant)
    other = await new_merchant(engine)
    for url in (f"/v1/payments/{payment_id}/refund", "/v1/payments/py_nothing/refund"):
        answer = await client.post(url, json={}, headers=other.headers)
        assert answer.status_code == 404 and answer.json()["message"] == "Payment transaction not found."
    assert await count_refunds(engine, payment_id) == 0


async def test_an_idempotency_key_replays_the_refund(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    payment_id = await paid_payment(client, engine, merchant)
    url, headers = f"/v1/payments/{payment_id}/refund", {**merchant.headers, "Idempotency-Key": "refund-1"}
    first = await client.post(url, json={}, headers=headers)  # all of it: nothing is left after
    second = await client.post(url, json={}, headers=headers)  # the retry is replayed, not refused for that
    assert first.status_code == second.status_code == 201, second.text
    assert second.headers["idempotent-replayed"] == "true" and first.json() == second.json()
    assert (await client.post(url, json={"amount": 41}, headers=headers)).status_code == 422  # another body
    assert await count_refunds(engine, payment_id) == 1


async def test_concurrent_refunds_beyond_the_amount_paid_only_those_that_fit(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    payment_id = await paid_payment(client, engine, merchant, amount=100)
    url = f"/v1/payments/{payment_id}/refund"
    answers = await asyncio.gather(*(client.post(url, json={"amount": 30}, headers=merchant.headers) for _ in range(8)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 3 + [422] * 5, [a.text for a in answers]
    assert all(a.json()["errors"] == {"amount": [
        "The amount field must not be greater than what is left to refund (10 of 100)."
    ]} for a in answers if a.status_code == 422)  # fmt: skip
    payment = (await client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)).json()["data"]
    assert payment["amount_refundable"] == 10 and len(payment["refunds"]) == 3
    assert await count_refunds(engine, payment_id) == 3
    # The ledger stays balanced: three refunds set aside, nothing more.
    [balance] = (await client.get("/v1/balances", headers=merchant.headers)).json()["data"]
    assert (balance["collected"], balance["refunded"], balance["available"]) == (100, 90, 10)
    async with engine.connect() as conn:
        entries = select(func.sum(ledger_entries.c.amount)).where(ledger_entries.c.app_id == merchant.id)
        assert (await conn.execute(entries)).scalar() == 0


async def test_concurrent_retries_with_one_idempotency_key_all_answer_the_one_refund(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    # A client that times out and retries while its first request is still running: every copy is answered
    # with the one refund, never refused because that refund already took all that was left.
    payment_id = await paid_payment(client, engine, merchant)
    url, headers = f"/v1/payments/{payment_id}/refund", {**merchant.headers, "Idempotency-Key": "refund-race"}
    answers = await asyncio.gather(*(client.post(url, json={}, headers=headers) for _ in range(4)))
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["data"]["id"] for a in answers}) == 1
    assert await count_refunds(engine, payment_id) == 1
