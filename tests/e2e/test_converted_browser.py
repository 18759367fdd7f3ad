"""The seed's own request in a real Chromium: 100 USD restricted to Nigerian methods, offered in naira at the
operator's rate, paid end to end with each, verified with the rate and the amount debited; with a rate too old,
the methods are left out and the page says why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.clock import utcnow
from cauri.services.rates import set_rate
from cauri.store.tables import rates
from tests.conftest import MerchantApp, uow
from tests.e2e.conftest import Gateway, initialize, verify
from tests.e2e.test_checkout_browser import body, open_checkout, returned_to_merchant

SEED = {"amount": 100, "currency": "USD", "methods": ["qr_ngn", "bank_transfer_ngn"]}


@pytest.fixture
async def no_rates(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    async with engine.begin() as conn:
        await conn.execute(delete(rates))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(delete(rates))


@pytest.mark.parametrize(
    ("method", "kind", "shown"), [("qr_ngn", "qr", ".qr svg"), ("bank_transfer_ng", "bank_transfer", "#waiting .code")]
)
async def test_the_seeds_request_is_paid_in_naira_end_to_end(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str, no_rates: AsyncEngine,
    method: str, kind: str, shown: str,
) -> None:  # fmt: skip
    await set_rate(uow(no_rates), "USD", "NGN", "1550.25")
    created = initialize(gateway, merchant.secret, body(merchant_site, **SEED))
    page = await open_checkout(browser, created["checkout_url"])
    await expect(page.locator("#amount")).to_have_text("$100")
    # One kind of method at a time: both kinds are offered, each method with both amounts.
    for tab, code in (("qr", "qr_ngn"), ("bank_transfer", "bank_transfer_ng")):
        await page.click(f"#kind-{tab}")
        await expect(page.locator(f".converted[data-method={code}]")).to_have_text("$100 ≈ NGN\xa0155,025")
    await expect(page.locator(".unpriced")).to_have_count(0)
    await page.click(f"#kind-{kind}")
    await page.check(f"input[value={method}]", force=True)  # a kind's only method is chosen already
    await page.click("#pay")
    await expect(page.locator(shown).first).to_be_visible()
    await expect(page.locator("#amount-due")).to_have_text("NGN\xa0155,025")
    await returned_to_merchant(page, merchant_site, created["id"], "success")
    data = verify(gateway, merchant.secret, created["id"])
    assert (data["status"], data["amount"]) == ("success", 100)
    capture = data["capture"]
    assert isinstance(capture, dict)
    assert capture["method"]["short_code"] == method
    assert (capture["rate"], capture["rate_formatted"], capture["correction_rate"]) == (
        "1550.25", "1 USD = 1,550.25 NGN", "0",
    )  # fmt: skip
    assert capture["metadata"]["amount_debited"] == 155_025 and capture["metadata"]["currency_debited"] == "NGN"


async def test_a_rate_too_old_leaves_the_methods_out_and_the_page_says_why(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str, no_rates: AsyncEngine
) -> None:
    too_old = utcnow() - timedelta(hours=gateway.settings.rate_max_age_hours + 1)
    await set_rate(uow(no_rates), "USD", "NGN", "1550.25", now=too_old)
    created = initialize(gateway, merchant.secret, body(merchant_site, **SEED))
    page = await open_checkout(browser, created["checkout_url"])
    await expect(page.locator(".unpriced")).to_have_text(
        "Payment in NGN is not available right now: no current USD→NGN exchange rate."
    )
    await expect(page.locator("input[name=method]")).to_have_count(0)
    await expect(page.locator("#pay")).to_have_count(0)
    french = await open_checkout(browser, created["checkout_url"], language="fr-FR")
    await expect(french.locator(".unpriced")).to_contain_text("Le paiement en NGN n’est pas disponible")
