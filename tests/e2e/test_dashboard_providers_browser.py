"""In a real headless Chromium at 360 px, against a real server: an owner marks a paid payment processed (the API
then says so), and reads and removes the app's provider accounts. Screenshots go to ``CAURI_SHOTS`` (default: a
temporary directory), outside the repository."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.test_refunds import paid_payment
from tests.conftest import MerchantApp
from tests.dashboard.conftest import new_user
from tests.e2e.conftest import Gateway, verify
from tests.e2e.test_dashboard_browser import log_in
from tests.e2e.test_dashboard_developers_browser import PHONE, fits

SECRET = "sk_test_never_shown_4Qz8"


async def test_an_owner_marks_a_payment_processed_on_a_phone(
    browser: Browser, gateway: Gateway, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        payment_id = await paid_payment(client, engine, merchant, amount=2500)
    owner = await new_user(engine, "owner", [merchant.id])
    page = await (await browser.new_context(locale="en-US", viewport=PHONE)).new_page()
    await log_in(page, gateway.url, owner)
    await page.goto(f"{gateway.url}/dashboard/payments/{payment_id}?lang=en")
    await page.click("text=Mark processed")
    await expect(page.locator(".notice")).to_contain_text("marked processed")
    processed_at = str(verify(gateway, merchant.secret, payment_id)["processed_at"])  # the API says so too
    await expect(page.locator("dd.processed-at")).to_have_text(processed_at[:19].replace("T", " "))
    assert await page.locator("text=Mark processed").count() == 0
    await fits(page, "payment-processed-360")
    await page.goto(f"{gateway.url}/dashboard/payments/{payment_id}?lang=fr")
    await expect(page.locator("dt", has_text="Traité (UTC)")).to_be_visible()
    await fits(page, "payment-processed-360-fr")


async def test_an_owner_reads_and_removes_provider_accounts_on_a_phone(
    browser: Browser, gateway: Gateway, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    headers = {"Authorization": f"Bearer {merchant.secret}"}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10, headers=headers) as client:
        for body in (
            {"provider": "paystack", "label": "Paystack main", "credentials": {"secret_key": SECRET}, "priority": 10},
            {"provider": "pawapay", "label": "pawaPay backup", "credentials": {"api_token": SECRET}, "priority": 20},
        ):
            assert (await client.post("/v1/providers", json=body)).status_code == 201
    owner = await new_user(engine, "owner", [merchant.id])
    page = await (await browser.new_context(locale="fr-FR", viewport=PHONE)).new_page()
    await log_in(page, gateway.url, owner)
    await page.goto(f"{gateway.url}/dashboard/providers?app={merchant.id}&lang=en")
    await expect(page.locator("tr.account")).to_have_count(2)
    await expect(page.locator("tr.account").first).to_contain_text("Paystack main")
    assert SECRET not in await page.content()
    await fits(page, "providers-360")
    await page.locator("tr.account", has_text="pawaPay backup").locator("button", has_text="Remove").click()
    await expect(page.locator(".notice")).to_contain_text("removed")
    await expect(page.locator("tr.account")).to_have_count(1)
    await page.goto(f"{gateway.url}/dashboard/providers?app={merchant.id}&lang=fr")
    await expect(page.locator("h1")).to_have_text("Comptes de fournisseurs")
    await fits(page, "providers-360-fr")
    await page.click("summary:has-text('FedaPay')")  # the add form: two secrets and an optional one
    await expect(page.locator("input[type=password]:visible")).to_have_count(3)
    await fits(page, "providers-add-360-fr")
