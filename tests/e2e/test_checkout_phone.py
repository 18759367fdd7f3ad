"""The checkout on a 360 px phone, as a customer in a hurry uses it: the country first, the number typed and its
network found, a card form that keeps what was typed, a waiting page to leave, the page without scripts, and
the number of taps from the number to "paid".

With ``CAURI_SHOTS`` set to a directory, each step is saved there as a PNG (to look at, not to compare)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import MerchantApp
from tests.e2e.conftest import Gateway, initialize, verify
from tests.e2e.test_checkout_browser import body, returned_to_merchant

PHONE: dict[str, Any] = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


async def open_phone(browser: Browser, url: str, *, locale: str = "fr-FR", **context: Any) -> Page:
    page = await (await browser.new_context(locale=locale, **{**PHONE, **context})).new_page()
    await page.goto(url)
    return page


async def shot(page: Page, name: str) -> None:
    """Saves the step when ``CAURI_SHOTS`` names a directory; checks, every time, that nothing scrolls sideways."""
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= 360, name
    folder = os.environ.get("CAURI_SHOTS")
    if folder:  # the page's screenshot creates the folder
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


async def checked(page: Page) -> str | None:
    value: str | None = await page.evaluate(
        "(document.querySelector('input[name=method]:checked') || {}).value || null"
    )
    return value


async def test_the_country_comes_first_then_its_methods_named_for_it(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site))  # every XOF method: eight countries
    page = await open_phone(browser, created["checkout_url"], locale="en-US")
    await expect(page.locator("#country-select")).to_be_visible()
    await expect(page.locator("#pay")).to_have_count(0)  # nothing to pay with before the country
    await shot(page, "01-country")
    await page.select_option("#country-select", "CI")  # the script shows the country's methods at once
    await expect(page.locator("#pay")).to_be_visible()
    names = await page.eval_on_selector_all(".method .name", "els => els.map(e => e.textContent.trim())")
    assert names == ["Moov Money", "MTN MoMo", "Orange Money", "Wave"]  # no "CI" after each: the page says it
    assert await page.locator(".mark.b-orange").count() == 1  # the brand's colours
    await page.click("#kind-card")
    await expect(page.locator(".method .name")).to_have_text("Bank card")
    # The language's region, then the customer's own country, preselect it.
    senegal = await open_phone(browser, created["checkout_url"], locale="fr-SN")
    await expect(senegal.locator("#country-select")).to_have_value("SN")
    await expect(senegal.locator(".method .name", has_text="Orange Money")).to_have_count(1)
    customer = {"email": "a@example.com", "first_name": "A", "last_name": "B", "country": "BJ"}
    known = initialize(gateway, merchant.secret, body(merchant_site, customer=customer))
    benin = await open_phone(browser, known["checkout_url"], locale="fr-SN")
    await expect(benin.locator("#country-select")).to_have_value("BJ")
    await expect(benin.locator("#kind-card")).to_have_text("Carte bancaire")


async def test_the_network_is_found_from_the_typed_number(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, methods=["mtn_bj", "moov_bj"]))
    page = await open_phone(browser, created["checkout_url"])
    assert await checked(page) is None
    await page.locator("#phone").press_sequentially("0196000000")
    await expect(page.locator("#phone")).to_have_value("01 96 00 00 00")  # grouped as Beninese numbers are
    assert await checked(page) == "mtn_bj"
    await shot(page, "02-network-found")
    await page.fill("#phone", "")
    await page.locator("#phone").press_sequentially("+2290145000000")
    await expect(page.locator("#phone")).to_have_value("+229 01 45 00 00 00")
    assert await checked(page) == "moov_bj"


async def test_a_refused_card_form_keeps_all_but_the_security_code(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, methods=["card_xof"]))
    page = await open_phone(browser, created["checkout_url"])
    await page.fill("#card_number", "4242 4242 4242 4242")
    await page.fill("#card_expiry", "13/20")  # no such month
    await page.fill("#card_cvc", "123")
    await page.select_option("#country", "SN")
    await page.click("#pay")
    await expect(page.locator(".error")).to_have_text("Vérifiez la date d'expiration (MM/AA).")
    await shot(page, "03-card-refused")
    await expect(page.locator("#card_number")).to_have_value("4242 4242 4242 4242")
    await expect(page.locator("#card_expiry")).to_have_value("13/20")
    await expect(page.locator("#country")).to_have_value("SN")
    await expect(page.locator("#card_cvc")).to_have_value("")  # never sent back to the browser
    await page.fill("#card_expiry", "12/39")
    await page.fill("#card_cvc", "123")
    await page.click("#pay")
    await expect(page.locator("#approve")).to_be_visible()
    await shot(page, "04-card-verification")


async def test_the_waiting_page_cancels_or_tries_another_method(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, methods=["mtn_bj", "moov_bj"]))
    page = await open_phone(browser, created["checkout_url"])
    await page.fill("#phone", "4149518163")  # the sandbox's number that never answers
    await page.check("input[value=mtn_bj]")
    await page.click("#pay")
    await expect(page.locator("#waiting")).to_contain_text("+229 4149518163")  # read in Benin, not "+41…"
    await shot(page, "05-waiting-phone")
    await page.click("#retry")  # another method: the attempt is left, the payment stays open
    await expect(page.locator("#pay")).to_be_visible()
    await expect(page.locator("#failure")).to_have_count(0)
    assert verify(gateway, merchant.secret, created["id"])["status"] == "pending"
    await page.fill("#phone", "4149518163")
    await page.check("input[value=moov_bj]")
    await page.click("#pay")
    await expect(page.locator("#waiting")).to_be_visible()
    await page.click("#cancel")
    await expect(page.locator("#outcome")).to_contain_text("Paiement annulé")
    await shot(page, "06-result-cancelled")
    await returned_to_merchant(page, merchant_site, created["id"], "cancelled")


async def test_without_scripts_every_step_is_a_form_and_a_page(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site))
    page = await open_phone(browser, created["checkout_url"], locale="en-US", java_script_enabled=False)
    await page.select_option("#country-select", "BJ")
    await page.click("#country-go")  # no script: the button asks for the country's methods
    await expect(page.locator("#phone")).to_be_visible()
    await page.fill("#phone", "01 96 00 00 00")  # no network chosen: the server finds it from the number
    await shot(page, "07-nojs-methods")
    await page.click("#pay")
    await expect(page.locator("#waiting")).to_contain_text("MTN MoMo")
    await shot(page, "08-nojs-waiting")
    # The refresh tags carry the customer on: to the result, then back to the merchant.
    await expect(page.locator("#outcome")).to_be_visible(timeout=15_000)
    await shot(page, "09-nojs-result")
    await returned_to_merchant(page, merchant_site, created["id"], "success")
    capture: Any = verify(gateway, merchant.secret, created["id"])["capture"]
    assert capture["method"]["short_code"] == "mtn_bj"


async def counting_taps(browser: Browser, locale: str) -> tuple[Page, list[str]]:
    """A phone whose every touch is reported by the browser itself, on every page it loads (the form posts
    load new pages), as the tapped element's id or tag: what the customer did, not what the test meant to do."""
    context = await browser.new_context(locale=locale, **PHONE)
    taps: list[str] = []
    await context.expose_binding("cauriTapped", lambda _source, target: taps.append(target))
    await context.add_init_script(
        "document.addEventListener('touchstart', e => window.cauriTapped("
        "(e.target.closest('[id]') || e.target).id || e.target.tagName), {capture: true})"
    )
    return await context.new_page(), taps


@pytest.mark.parametrize(
    ("locale", "country_known"),
    [("fr-BJ", True), ("en-US", False)],  # a phone set to Benin's French; one whose language names no country
)
async def test_a_customer_reaches_paid_within_three_taps_of_typing_their_number(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str, locale: str, country_known: bool
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site))  # all of XOF's countries and methods
    page, taps = await counting_taps(browser, locale)
    await page.goto(created["checkout_url"])
    if not country_known:  # the country comes first (before the number: not counted); its form loads its page
        async with page.expect_navigation():
            await page.select_option("#country-select", "BJ")
    await shot(page, f"10-methods-{locale}")
    for needed in ("#phone", "#pay"):  # both on the first screen: no scrolling to find them
        box = await page.locator(needed).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 740, needed
    await page.locator("#phone").press_sequentially("0197000000")
    assert taps == [], "typing is not tapping"
    assert await checked(page) == "mtn_bj", "the network was found from the number: no tap to choose it"
    await page.tap("#pay")
    paid = "Paiement reçu" if locale.startswith("fr") else "Payment received"
    await expect(page.locator("#outcome")).to_contain_text(paid, timeout=15_000)
    await shot(page, f"11-result-paid-{locale}")
    assert taps == ["pay"], taps  # one tap, counted by the browser, from the number to "paid" (at most three)
    assert verify(gateway, merchant.secret, created["id"])["status"] == "success"


async def test_instructions_are_real_steps(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    for method, step in (("ussd_ngn", "*880*"), ("bank_transfer_ng", "0123456789"), ("qr_ngn", "QR")):
        created = initialize(gateway, merchant.secret, body(merchant_site, currency="NGN", methods=[method]))
        page = await open_phone(browser, created["checkout_url"], locale="en-US")
        if method == "ussd_ngn":
            await page.fill("#phone", "4149518163")  # stays pending, for the picture
        await page.click("#pay")
        await expect(page.locator("#waiting")).to_contain_text(step)
        await expect(page.locator("#waiting .steps li")).not_to_have_count(0)
        await shot(page, f"12-instructions-{method}")
