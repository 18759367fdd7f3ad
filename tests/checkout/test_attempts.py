"""Attempts, notifications and background jobs on real databases (no browser)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.clock import utcnow
from cauri.services.checkout import expire_payments, reconcile
from cauri.settings import Settings
from cauri.store.tables import attempts, events, payments
from tests.conftest import MerchantApp, payment_body, record_attempt, uow


async def new_payment(client: httpx.AsyncClient, merchant: MerchantApp, **overrides: object) -> str:
    response = await client.post(
        "/v1/payments/initialize", json=payment_body(currency="XOF", methods=["mtn_bj"], **overrides),
        headers=merchant.headers,
    )  # fmt: skip
    payment_id: str = response.json()["data"]["id"]
    return payment_id


async def new_attempt(engine: AsyncEngine, payment_id: str, phone: str = "4149518161", age: float = 0) -> str:
    now = utcnow() - timedelta(seconds=age)
    attempt_id = f"att_{payment_id[3:]}{int(age)}"
    await record_attempt(
        engine,
        {
            "id": attempt_id, "payment_id": payment_id, "method": "mtn_bj", "connector": "sandbox",
            "status": "pending", "phone": phone, "card_last4": None, "provider_reference": None,
            "next_action": None, "failure_code": None, "failure_message": None, "client_ip": "127.0.0.1",
            "user_agent": "test", "locale": "fr", "created_at": now, "updated_at": now, "completed_at": None,
        },
    )  # fmt: skip
    return attempt_id


def notification(client: httpx.AsyncClient, secret: bytes, attempt_id: str, status: str) -> Any:
    body = orjson.dumps({"attempt_id": attempt_id, "status": status, "failure_code": None, "failure_message": None})
    signature = SandboxConnector(secret, 0).sign(body)
    return client.post("/connectors/sandbox/callback", content=body, headers={"x-sandbox-signature": signature})


async def event_types(engine: AsyncEngine, payment_id: str) -> list[str]:
    async with engine.connect() as conn:
        query = select(events.c.type).where(events.c.payment_id == payment_id).order_by(events.c.created_at)
        return list((await conn.execute(query)).scalars())


async def status_of(engine: AsyncEngine, payment_id: str) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(select(payments.c.status).where(payments.c.id == payment_id))).scalar_one())


async def test_a_forged_notification_changes_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    payment_id = await new_payment(client, merchant)
    attempt_id = await new_attempt(engine, payment_id)
    response = await notification(client, b"not the secret", attempt_id, "success")
    assert response.status_code == 400
    assert await status_of(engine, payment_id) == "pending"
    unsigned = await client.post("/connectors/sandbox/callback", content=b"{}")
    assert unsigned.status_code == 400


async def test_concurrent_notifications_complete_the_payment_exactly_once(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    payment_id = await new_payment(client, merchant)
    attempt_id = await new_attempt(engine, payment_id)
    secret = settings.secret
    responses = await asyncio.gather(
        *(notification(client, secret, attempt_id, s) for s in ("success", "success", "failed", "success"))
    )
    assert all(r.status_code == 200 for r in responses)
    assert sum(r.json()["applied"] for r in responses) == 1
    final = await status_of(engine, payment_id)
    assert final in ("success", "pending")  # pending if the failure won: the customer may try again
    assert await event_types(engine, payment_id) == ["payment.initiated", "payment.success" if final == "success"
                                                     else "payment.failed"]  # fmt: skip


async def test_every_failed_attempt_emits_payment_failed(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    payment_id = await new_payment(client, merchant)
    secret = settings.secret
    for age in (3, 2):
        attempt_id = await new_attempt(engine, payment_id, age=age)
        await notification(client, secret, attempt_id, "failed")
    attempt_id = await new_attempt(engine, payment_id, age=1)
    await notification(client, secret, attempt_id, "success")
    assert await event_types(engine, payment_id) == [
        "payment.initiated", "payment.failed", "payment.failed", "payment.success",
    ]  # fmt: skip
    verify = await client.get(f"/v1/payments/{payment_id}/verify", headers=merchant.headers)
    capture = verify.json()["data"]["capture"]
    assert capture["identifier"] == attempt_id
    assert capture["gateway"]["transaction_status"] == "success"
    assert verify.json()["data"]["payment_phone_number"] == "4149518161"


async def test_unpaid_payments_expire_into_cancelled(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    old = await new_payment(client, merchant)
    fresh = await new_payment(client, merchant)
    async with engine.begin() as conn:
        await conn.execute(
            update(payments).where(payments.c.id == old).values(initiated_at=utcnow() - timedelta(minutes=11))
        )
    assert await expire_payments(uow(engine)) >= 1
    assert await status_of(engine, old) == "cancelled"
    assert await status_of(engine, fresh) == "initiated"
    assert await event_types(engine, old) == ["payment.initiated", "payment.cancelled"]


async def test_reconciliation_asks_the_connector_about_silent_attempts(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    paid = await new_payment(client, merchant)
    stuck = await new_payment(client, merchant)
    await new_attempt(engine, paid, phone="22994149518161", age=600)
    await new_attempt(engine, stuck, phone="4149518163", age=600)  # the "stays pending" number
    registry = ConnectorRegistry(SandboxConnector(b"s", 0))
    lease = timedelta(seconds=60)
    assert await reconcile(uow(engine), registry, older_than=timedelta(seconds=120), lease=lease) >= 1
    assert await status_of(engine, paid) == "success"
    assert await status_of(engine, stuck) == "pending"


async def test_forms_need_the_csrf_token(client: httpx.AsyncClient, merchant: MerchantApp, engine: AsyncEngine) -> None:
    payment_id = await new_payment(client, merchant)
    page = await client.get(f"/checkout/{payment_id}")
    assert page.status_code == 200
    for data in ({"method": "mtn_bj", "phone": "4149518161"}, {"method": "mtn_bj", "csrf": "0" * 64}):
        refused = await client.post(f"/checkout/{payment_id}/pay", data=data)
        assert refused.status_code == 403
    cancel = await client.post(f"/checkout/{payment_id}/cancel", data={"csrf": "x"})
    assert cancel.status_code == 403
    assert await status_of(engine, payment_id) == "initiated"
    async with engine.connect() as conn:
        count = (await conn.execute(select(attempts.c.id).where(attempts.c.payment_id == payment_id))).all()
    assert count == []


async def test_a_finished_payment_cannot_be_paid_again(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    payment_id = await new_payment(client, merchant)
    await notification(client, settings.secret, await new_attempt(engine, payment_id), "success")
    page = await client.get(f"/checkout/{payment_id}")
    assert 'id="outcome"' in page.text
    assert 'id="pay"' not in page.text
    token = page.text.split('name="csrf" value="')[1].split('"')[0] if 'name="csrf"' in page.text else "none"
    again = await client.post(f"/checkout/{payment_id}/pay", data={"csrf": token, "method": "mtn_bj"})
    assert again.status_code in (303, 403)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(attempts.c.id).where(attempts.c.payment_id == payment_id))).all()
    assert len(rows) == 1


async def test_merchant_strings_are_escaped_on_the_page(client: httpx.AsyncClient, merchant: MerchantApp) -> None:
    payment_id = await new_payment(client, merchant, description='<img src=x onerror="alert(1)">')
    page = await client.get(f"/checkout/{payment_id}")
    assert "<img src=x" not in page.text
    assert "&lt;img src=x onerror=" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


async def test_a_notification_settles_only_its_own_connectors_attempts(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    from cauri.connectors.base import Outcome
    from cauri.domain.attempts import AttemptStatus
    from cauri.services.checkout import apply_outcome

    payment_id = await new_payment(client, merchant)
    attempt_id = await new_attempt(engine, payment_id)
    forged = Outcome(attempt_id, AttemptStatus.SUCCESS)
    assert not await apply_outcome(uow(engine), "another_provider", forged)
    assert await status_of(engine, payment_id) == "pending"
    assert await apply_outcome(uow(engine), "sandbox", forged)
    assert await status_of(engine, payment_id) == "success"
