"""The checkout's budget on a phone, held by a test: each step a customer sees weighs under 30 KB gzipped with
everything the browser fetches to show it (as if its cache were empty), and not one request leaves the gateway.

``bench/checkout.py`` reports the same weights with more steps; this test fails when a change breaks the budget.
"""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable

from playwright.async_api import Browser, Page, Response

from tests.conftest import MerchantApp
from tests.e2e.conftest import Gateway, initialize
from tests.e2e.test_checkout_browser import body
from tests.e2e.test_checkout_phone import PHONE

BUDGET = 30 * 1024  # bytes, gzipped, per step


async def weigh(
    browser: Browser, origins: tuple[str, ...], url: str, steps: list[tuple[str, Callable[[Page], Awaitable[None]]]]
) -> dict[str, tuple[int, list[str]]]:
    """Opens ``url``, then takes each step; for each, the gzipped bytes of every answer the browser received
    while taking it, and every request that went to none of ``origins``."""
    context = await browser.new_context(locale="en-US", **PHONE)
    # Routing turns the browser's cache off: each step fetches its stylesheet, script and icon again, and is
    # weighed with them (the worst case, a phone whose cache was emptied).
    await context.route("**/*", lambda route: route.continue_())
    page = await context.new_page()
    answers: list[Response] = []
    elsewhere: list[str] = []
    page.on("response", lambda answer: answers.append(answer))
    page.on("request", lambda r: None if r.url.startswith((*origins, "data:")) else elsewhere.append(r.url))
    weights: dict[str, tuple[int, list[str]]] = {}

    async def opened(page: Page) -> None:
        await page.goto(url, wait_until="networkidle")

    for name, step in [("page", opened), *steps]:
        answers.clear()
        elsewhere.clear()
        await step(page)
        await page.wait_for_load_state("networkidle")
        total = 0
        for answer in answers:
            if answer.status < 300:  # a redirect has no body; what it leads to is weighed
                total += len(gzip.compress(await answer.body()))
        weights[name] = (total, list(elsewhere))
    await context.close()
    return weights


def navigating(action: Callable[[Page], Awaitable[None]]) -> Callable[[Page], Awaitable[None]]:
    async def step(page: Page) -> None:
        async with page.expect_navigation():
            await action(page)

    return step


async def test_every_step_weighs_under_30_kb_gzipped_and_stays_on_the_gateway(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, body(merchant_site))  # all of XOF's eight countries

    async def to_benin(page: Page) -> None:
        await page.select_option("#country-select", "BJ")

    async def to_cards(page: Page) -> None:
        await page.click("#kind-card")

    async def to_mobile_money(page: Page) -> None:
        await page.click("#kind-mobile_money")

    async def pay_and_wait(page: Page) -> None:
        await page.fill("#phone", "4149518163")  # the sandbox's number that never answers: the waiting page stays
        await page.check("input[value=mtn_bj]")
        await page.click("#pay")

    async def cancel(page: Page) -> None:
        await page.click("#cancel")

    weights = await weigh(
        browser,
        (gateway.url, merchant_site),  # the merchant's own site is where the customer goes back to
        created["checkout_url"],
        [
            ("mobile money in Benin", navigating(to_benin)),
            ("card form", navigating(to_cards)),
            ("mobile money again", navigating(to_mobile_money)),
            ("waiting", navigating(pay_and_wait)),
            ("cancelled", navigating(cancel)),
        ],
    )
    assert list(weights) == ["page", "mobile money in Benin", "card form", "mobile money again", "waiting", "cancelled"]
    assert all(size > 2000 for size, _ in weights.values()), f"each page weighed with its assets: {weights}"
    for name, (size, elsewhere) in weights.items():
        assert elsewhere == [], f"{name}: requests off the gateway {elsewhere}"
        assert size < BUDGET, f"{name}: {size} bytes gzipped"
