"""A payment's page marks a paid payment processed (the API's ``process``), and says its webhook deliveries' and
emails' states in the reader's language; on both databases."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.store.tables import audit_log, deliveries, emails, payments
from tests.api.test_refunds import paid_payment
from tests.conftest import MerchantApp
from tests.dashboard.conftest import User, log_in, new_user, token_in
from tests.dashboard.test_pages import pay_in


async def _processed(engine: AsyncEngine, payment_id: str) -> tuple[bool, object]:
    query = select(payments.c.is_processed, payments.c.processed_at).where(payments.c.id == payment_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return row.is_processed, row.processed_at


async def _audited(engine: AsyncEngine, payment_id: str) -> list[str]:
    c = audit_log.c
    query = select(c.actor).where(c.action == "payment.processed", c.target == payment_id)
    async with engine.connect() as conn:
        return list((await conn.execute(query)).scalars().all())


async def test_an_owner_marks_a_paid_payment_processed(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    payment_id = await paid_payment(browser_client, engine, merchant)
    await log_in(browser_client, owner)
    page = await browser_client.get(f"/dashboard/payments/{payment_id}?lang=en")
    assert f"/dashboard/payments/{payment_id}/process" in page.text and "Not yet" in page.text
    answer = await browser_client.post(f"/dashboard/payments/{payment_id}/process", data={"csrf": token_in(page.text)})
    assert answer.status_code == 303 and "notice=processed" in answer.headers["location"]
    verified = await browser_client.get(f"/v1/payments/{payment_id}/verify", headers=merchant.headers)
    data = verified.json()["data"]
    assert data["is_processed"] is True and data["processed_at"]
    after = await browser_client.get(answer.headers["location"])
    assert "The payment was marked processed." in after.text and "Processed (UTC)" in after.text
    assert f"/dashboard/payments/{payment_id}/process" not in after.text  # done: no button
    assert "Marked processed" in after.text  # in the timeline
    assert await _audited(engine, payment_id) == [owner.email]
    # Posting again (a second tab) changes nothing and records nothing.
    again = await browser_client.post(f"/dashboard/payments/{payment_id}/process", data={"csrf": token_in(page.text)})
    assert again.status_code == 303
    assert await _audited(engine, payment_id) == [owner.email]
    french = await browser_client.get(f"/dashboard/payments/{payment_id}?lang=fr")
    assert "Traité (UTC)" in french.text


async def test_a_developer_may_mark_processed(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    payment_id = await paid_payment(browser_client, engine, merchant)
    developer = await new_user(engine, "developer", [merchant.id])
    await log_in(browser_client, developer)
    page = await browser_client.get(f"/dashboard/payments/{payment_id}")
    assert f"/dashboard/payments/{payment_id}/process" in page.text
    assert f"/dashboard/payments/{payment_id}/cancel" not in page.text  # cancels stay the owner's
    answer = await browser_client.post(f"/dashboard/payments/{payment_id}/process", data={"csrf": token_in(page.text)})
    assert answer.status_code == 303
    assert (await _processed(engine, payment_id))[0] is True


async def test_a_viewer_and_a_forged_token_are_refused(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    payment_id = await paid_payment(browser_client, engine, merchant)
    viewer = await new_user(engine, "viewer", [merchant.id])
    await log_in(browser_client, viewer)
    page = await browser_client.get(f"/dashboard/payments/{payment_id}")
    assert page.status_code == 200 and "/process" not in page.text
    refused = await browser_client.post(f"/dashboard/payments/{payment_id}/process", data={"csrf": token_in(page.text)})
    assert refused.status_code == 403
    assert await _processed(engine, payment_id) == (False, None)
    browser_client.cookies.clear()
    await log_in(browser_client, owner)
    for forged in ({}, {"csrf": "forged"}, {"csrf": token_in(page.text)}):  # the viewer's token is not the owner's
        answer = await browser_client.post(f"/dashboard/payments/{payment_id}/process", data=forged)
        assert answer.status_code == 403
    assert await _processed(engine, payment_id) == (False, None)
    assert await _audited(engine, payment_id) == []


async def test_an_unpaid_payment_is_not_marked_processed(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    payment_id = await pay_in(browser_client, merchant)
    await log_in(browser_client, owner)
    page = await browser_client.get(f"/dashboard/payments/{payment_id}")
    assert "/process" not in page.text and "Not yet" not in page.text
    refused = await browser_client.post(f"/dashboard/payments/{payment_id}/process", data={"csrf": token_in(page.text)})
    assert refused.status_code == 422
    assert await _processed(engine, payment_id) == (False, None)
    elsewhere = await browser_client.post("/dashboard/payments/py_not_ours/process", data={"csrf": token_in(page.text)})
    assert elsewhere.status_code == 404


async def test_delivery_and_email_states_speak_french(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    hook = await browser_client.post("/v1/webhooks", json={"url": "https://example.com/hook"},
                                     headers=merchant.headers)  # fmt: skip
    payment_id = await paid_payment(browser_client, engine, merchant)
    async with engine.begin() as conn:
        endpoint = deliveries.c.endpoint_id == hook.json()["data"]["id"]
        ids = (await conn.execute(select(deliveries.c.id).where(endpoint))).scalars().all()
        assert ids
        await conn.execute(deliveries.update().where(deliveries.c.id == ids[0]).values(status="delivered"))
        await conn.execute(emails.update().where(emails.c.kind == "receipt", emails.c.to_address == "john@example.com")
                           .values(status="sent"))  # fmt: skip
    await log_in(browser_client, owner)
    french = await browser_client.get(f"/dashboard/payments/{payment_id}?lang=fr")
    english = await browser_client.get(f"/dashboard/payments/{payment_id}?lang=en")
    states = [part.split("</span>")[0].rsplit(">", 1)[-1] for part in french.text.split('class="delivery"')[1:]]
    assert states and set(states) <= {"livré", "en attente", "échoué"} and "livré" in states
    mails = [_visible(m.split("</div>")[0]) for m in french.text.split('class="email"')[1:]]
    assert any("reçu" in m and "envoyé" in m for m in mails), mails
    seen = _visible(french.text)
    for word in ("delivered", "pending", "sent", "receipt", "notice"):
        assert not re.search(rf"\b{word}\b", seen), word  # English words, not the event types' codes
    assert all(word in _visible(english.text) for word in ("delivered", "receipt", "sent"))


def _visible(html: str) -> str:
    """The page's text as read: no tags, and no event type (``payment.success``), which is a code."""
    return re.sub(r"payment\.\w+", "", re.sub(r"<[^>]+>", " ", html))
