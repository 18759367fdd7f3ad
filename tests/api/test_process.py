"""POST /v1/payments/{id}/process: only for paid payments, idempotent."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.apps import Scope
from cauri.domain.payments import PaymentStatus
from tests.conftest import MerchantApp, payment_body, uow


async def paid_payment(client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp) -> str:
    created = await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
    payment_id: str = created.json()["data"]["id"]
    scope = Scope(merchant.id, "sandbox")
    async with uow(engine) as tx:  # what the checkout does when the customer pays
        await tx.payments.move(payment_id, scope, PaymentStatus.PENDING)
        await tx.payments.move(payment_id, scope, PaymentStatus.SUCCESS)
        await tx.commit()
    return payment_id


async def test_process_marks_a_paid_payment_once(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    payment_id = await paid_payment(client, engine, merchant)
    first = await client.post(f"/v1/payments/{payment_id}/process", headers=merchant.headers)
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert data["is_processed"] is True
    assert data["processed_at"] is not None
    assert data["status"] == "success"
    # Moneroo's PHP SDK posts an empty JSON array as the body.
    again = await client.post(f"/v1/payments/{payment_id}/process", content="[]", headers=merchant.headers)
    assert again.status_code == 200
    assert again.json()["data"]["processed_at"] == data["processed_at"]


async def test_process_refuses_an_unpaid_payment(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    created = await client.post("/v1/payments/initialize", json=payment_body(), headers=merchant.headers)
    payment_id = created.json()["data"]["id"]
    response = await client.post(f"/v1/payments/{payment_id}/process", headers=merchant.headers)
    assert response.status_code == 422
    assert "initiated" in response.json()["message"]
    assert response.json()["errors"] == {"status": [response.json()["message"]]}
    verify = await client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)
    assert verify.json()["data"]["is_processed"] is False


async def test_process_of_an_unknown_payment_is_404(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    response = await client.post("/v1/payments/py_unknown000000/process", headers=merchant.headers)
    assert response.status_code == 404
