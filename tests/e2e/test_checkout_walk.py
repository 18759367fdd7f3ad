"""What a walk through the merged checkout on a 360 px phone found wrong, each now seen right: the amount a
converted payment debits on its pay button and its result, an international number in a country whose numbers
have a trunk prefix, USSD's own words and a code a keypad can dial, the card holder's country taken from the
phone's region, and method kinds named in a sentence as words are."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.services.rates import set_rate
from tests.conftest import MerchantApp, uow
from tests.e2e.conftest import Gateway, initialize, verify
from tests.e2e.test_checkout_browser import body
from tests.e2e.test_checkout_phone import checked, open_phone, shot
from tests.e2e.test_converted_browser import SEED, no_rates

__all__ = ["no_rates"]  # the fixture, used here by name


async def test_a_converted_payment_says_what_is_debited_on_the_button_and_the_result(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str, no_rates: AsyncEngine
) -> None:
    await set_rate(uow(no_rates), "USD", "NGN", "1550.25")
    created = initialize(gateway, merchant.secret, body(merchant_site, **SEED))
    # Without scripts the result stays on screen until its refresh tag returns to the merchant (5 s).
    page = await open_phone(browser, created["checkout_url"], locale="fr-BJ", java_script_enabled=False)
    await page.click("#kind-qr")
    await expect(page.locator("#pay")).to_have_text("Payer 155\u202f025\xa0NGN")  # what leaves the account
    await page.click("#pay")
    await expect(page.locator("#amount-due")).to_have_text("155\u202f025\xa0NGN")
    await expect(page.locator("#outcome")).to_be_visible(timeout=15_000)
    await expect(page.locator("#paid-with")).to_have_text("Vous avez payé 155\u202f025\xa0NGN avec code QR.")
    await shot(page, "walk-converted-result")
    english = await open_phone(browser, created["checkout_url"], locale="en-US", java_script_enabled=False)
    await expect(english.locator("#paid-with")).to_have_text("You paid NGN\xa0155,025 with QR code.")
    assert verify(gateway, merchant.secret, created["id"])["status"] == "success"


async def test_a_price_in_the_methods_currency_keeps_the_button_and_result_as_they_were(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, methods=["card_xof"]))
    page = await open_phone(browser, created["checkout_url"], locale="fr-BJ", java_script_enabled=False)
    await expect(page.locator("#pay")).to_have_text("Payer 5\u202f000\xa0F\u202fCFA")
    # The phone's region is the holder's country: no list of every country to scroll through.
    await expect(page.locator("#country")).to_have_value("BJ")
    await page.fill("#card_number", "4242424242424242")
    await page.fill("#card_expiry", "12/39")
    await page.fill("#card_cvc", "123")
    await page.click("#pay")
    await page.click("#approve")
    await expect(page.locator("#outcome")).to_be_visible(timeout=15_000)
    await expect(page.locator("#paid-with")).to_have_text("Payé avec carte bancaire.")  # a kind, lowercased
    capture = verify(gateway, merchant.secret, created["id"])["capture"]
    assert isinstance(capture, dict) and capture["method"]["short_code"] == "card_xof"


async def test_an_international_number_is_grouped_where_numbers_have_a_trunk_prefix(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(
        gateway, merchant.secret, body(merchant_site, currency="GHS", methods=["mtn_gh", "vodafone_gh"])
    )
    page = await open_phone(browser, created["checkout_url"], locale="en-GH")
    await page.locator("#phone").press_sequentially("+233241234567")
    await expect(page.locator("#phone")).to_have_value("+233 24 123 4567")  # the trunk 0 dropped once
    assert await checked(page) == "mtn_gh"
    await page.fill("#phone", "")
    await page.locator("#phone").press_sequentially("0241234567")
    await expect(page.locator("#phone")).to_have_value("024 123 4567")  # the plan unchanged by the last number
    await shot(page, "walk-ghana-number")


async def test_ussd_asks_for_a_phone_number_and_gives_a_code_a_keypad_can_dial(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, currency="NGN", methods=["ussd_ngn"]))
    page = await open_phone(browser, created["checkout_url"], locale="fr-BJ")
    await expect(page.locator("label[for=phone]")).to_have_text("Votre numéro de téléphone")  # not mobile money
    await page.click("#pay")
    await expect(page.locator("#phone-error")).to_have_text("Saisissez votre numéro de téléphone.")
    await page.fill("#phone", "4149518163")  # stays pending, for the instructions
    await page.click("#pay")
    code = page.locator("#waiting a.code")
    await expect(code).to_have_text(re.compile(r"^\*880\*\d{6}#$"))  # digits only: letters cannot be dialled
    href = await code.get_attribute("href")
    assert href is not None and re.fullmatch(r"tel:\*880\*\d{6}%23", href)
    await shot(page, "walk-ussd")


async def test_after_a_failed_attempt_trying_again_is_one_tap(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site, methods=["mtn_bj", "moov_bj"]))
    page = await open_phone(browser, created["checkout_url"], locale="fr-BJ")
    await page.fill("#phone", "4149518162")  # the sandbox's number whose owner declines
    await page.check("input[value=moov_bj]", force=True)
    await page.click("#pay")
    await expect(page.locator("#failure")).to_be_visible(timeout=15_000)
    # The number comes back as it was typed beside the "+229" (not "2294149518162"), its network chosen.
    await expect(page.locator("#phone")).to_have_value("4149518162")
    assert await checked(page) == "moov_bj"
    await shot(page, "walk-failed-retry")
    valid = initialize(gateway, merchant.secret, body(merchant_site, methods=["mtn_bj", "moov_bj"]))
    known = await open_phone(browser, valid["checkout_url"], locale="fr-BJ")
    await known.locator("#phone").press_sequentially("0197000000")
    await known.click("#pay")
    await expect(known.locator("#outcome")).to_be_visible(timeout=15_000)
