"""The hosted checkout in a real headless Chromium: open the checkout_url that initialize returned, pay, and
land on return_url with the contract's parameters."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import MerchantApp
from tests.e2e.conftest import Gateway, initialize, verify


def body(merchant_site: str, **overrides: object) -> dict[str, object]:
    payment: dict[str, object] = {
        "amount": 5000,
        "currency": "XOF",
        "description": "Commande #42",
        "customer": {"email": "awa@example.com", "first_name": "Awa", "last_name": "Dossou"},
        "return_url": f"{merchant_site}/return?order=42",
        "metadata": {"order_id": "42"},
    }
    payment.update(overrides)
    return payment


async def open_checkout(browser: Browser, url: str, *, language: str = "en-US", **context: object) -> Page:
    page = await (await browser.new_context(locale=language, **context)).new_page()  # type: ignore[arg-type]
    await page.goto(url)
    return page


async def returned_to_merchant(page: Page, merchant_site: str, payment_id: str, status: str) -> None:
    await page.wait_for_url(f"{merchant_site}/return**", timeout=15_000)
    query = parse_qs(urlsplit(page.url).query)
    assert query == {
        "order": ["42"],  # the merchant's own parameter, kept
        "paymentId": [payment_id],
        "paymentStatus": [status],
        "monerooPaymentId": [payment_id],
        "monerooPaymentStatus": [status],
    }


@pytest.mark.parametrize(
    ("currency", "method", "phone"),
    [("XOF", "mtn_bj", "4149518161"), ("USD", "moneroo_payment_demo", "4149518161"), ("NGN", "ussd_ngn", "4149518161")],
)
async def test_phone_methods_pay_and_return(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str, currency: str, method: str,
    phone: str,
) -> None:  # fmt: skip
    created = initialize(gateway, merchant.secret, body(merchant_site, currency=currency, methods=[method]))
    page = await open_checkout(browser, created["checkout_url"])
    await page.check(f"input[value={method}]")
    await page.fill("#phone", phone)
    await page.click("#pay")
    await expect(page.locator("#waiting")).to_be_visible()
    await returned_to_merchant(page, merchant_site, created["id"], "success")
    data = verify(gateway, merchant.secret, created["id"])
    assert data["status"] == "success"
    capture = data["capture"]
    assert isinstance(capture, dict) and capture["method"]["short_code"] == method  # type: ignore[index]


async def test_a_failed_attempt_then_a_retry_that_succeeds(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, methods=["mtn_bj", "moov_bj"]))
    page = await open_checkout(browser, created["checkout_url"])
    await page.check("input[value=mtn_bj]")
    await page.fill("#phone", "4149518162")
    await page.click("#pay")
    await expect(page.locator("#failure")).to_contain_text("declined", timeout=15_000)
    assert verify(gateway, merchant.secret, created["id"])["status"] == "pending"
    await page.check("input[value=moov_bj]")
    await page.fill("#phone", "4149518161")
    await page.click("#pay")
    await returned_to_merchant(page, merchant_site, created["id"], "success")


async def test_card_with_authentication_step(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, methods=["card_xof"]))
    page = await open_checkout(browser, created["checkout_url"])
    await page.check("input[value=card_xof]")
    await page.fill("#card_number", "4242 4242 4242 4242")
    await page.fill("#card_expiry", "12/39")
    await page.fill("#card_cvc", "123")
    await page.select_option("#country", "CI")  # a list of countries in the page's language, not a code to type
    await page.click("#pay")
    await expect(page.locator("#approve")).to_be_visible()
    assert "4242" in await page.content()  # the last four digits, and only those
    assert "4242 4242" not in await page.content()
    await page.click("#approve")
    await expect(page.locator("#outcome")).to_be_visible()
    await expect(page.locator("#approve")).to_have_count(0)  # the confirmation step is offered once
    await returned_to_merchant(page, merchant_site, created["id"], "success")


@pytest.mark.parametrize(
    ("method", "shown"), [("bank_transfer_ng", "#waiting .steps .code"), ("qr_ngn", ".qr svg path")]
)
async def test_instruction_methods_show_what_to_do_then_complete(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str, method: str, shown: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, currency="NGN", methods=[method]))
    page = await open_checkout(browser, created["checkout_url"])
    await page.check(f"input[value={method}]")
    await page.click("#pay")
    await expect(page.locator(shown).first).to_be_visible()
    if method == "qr_ngn":  # a real code, drawn in the page (no image request)
        box = await page.locator(".qr svg").bounding_box()
        assert box is not None and box["width"] >= 150
    else:
        await expect(page.locator("#waiting")).to_contain_text(
            "0123456789"
        )  # the account number    await returned_to_merchant(page, merchant_site, created["id"], "success")


async def test_cancel_returns_with_cancelled(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site))
    page = await open_checkout(browser, created["checkout_url"])
    await page.click("#cancel")
    await returned_to_merchant(page, merchant_site, created["id"], "cancelled")
    assert verify(gateway, merchant.secret, created["id"])["status"] == "cancelled"


async def test_restricted_phone_is_fixed_and_enforced(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    restricted = {"number": "4149518161", "country_code": "BJ"}
    created = initialize(gateway, merchant.secret, body(merchant_site, restricted_phone=restricted))
    page = await open_checkout(browser, created["checkout_url"])
    offered = await page.eval_on_selector_all("input[name=method]", "els => els.map(e => e.value)")
    assert offered and all(code.endswith("_bj") for code in offered), offered
    assert await page.get_attribute("#phone", "readonly") is not None
    # A customer who edits the page to pay from another number is refused by the server.
    await page.check("input[value=mtn_bj]")
    await page.eval_on_selector("#phone", "e => { e.removeAttribute('readonly'); e.value = '22997000000'; }")
    await page.click("#pay")
    await expect(page.locator("#phone-error")).to_be_visible()
    assert verify(gateway, merchant.secret, created["id"])["status"] == "initiated"
    assert await page.input_value("#phone") == "4149518161"  # the page puts the required number back
    await page.check("input[value=mtn_bj]")
    await page.click("#pay")
    await returned_to_merchant(page, merchant_site, created["id"], "success")


async def test_restrict_country_code_filters_methods(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, restrict_country_code="CI"))
    page = await open_checkout(browser, created["checkout_url"])
    await expect(page.locator("#country-select")).to_have_count(0)  # one country: straight to its methods
    kinds = await page.eval_on_selector_all(".kinds a", "els => els.map(e => e.id)")
    assert kinds == ["kind-mobile_money", "kind-card", "kind-crypto"]
    offered = await page.eval_on_selector_all("input[name=method]", "els => els.map(e => e.value)")
    assert set(offered) == {"moov_ci", "mtn_ci", "orange_ci", "wave_ci"}
    await page.click("#kind-card")
    assert await page.eval_on_selector_all("input[name=method]", "els => els.map(e => e.value)") == ["card_xof"]


async def test_french_and_english(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site))
    page = await open_checkout(browser, created["checkout_url"], language="fr-FR")
    await expect(page.locator("h1")).to_have_text("Choisissez comment payer")
    await expect(page.locator("#amount")).to_have_text("5\u202f000\u00a0F\u202fCFA")
    await page.click("text=English")
    await expect(page.locator("h1")).to_have_text("Choose how to pay")
    await page.goto(created["checkout_url"])  # the choice is remembered
    await expect(page.locator("h1")).to_have_text("Choose how to pay")
