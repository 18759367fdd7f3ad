"""The developers' pages and the overview in a real headless Chromium, against a real server: rotate a key and
call the API with the new one (the old one still works in its grace, and is refused once revoked); add a
webhook endpoint and send it a test event that a receiver on loopback gets, signed with the secret the page
showed once; a viewer refused a developer's action; the overview's figures match seeded payments. Desktop and
360 px phone layouts.

Screenshots go to ``CAURI_SHOTS`` (default: a temporary directory), outside the repository."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.clock import utcnow
from cauri.domain.webhooks import moneroo_signature
from tests.conftest import MerchantApp
from tests.dashboard.conftest import new_user
from tests.dashboard.test_overview import seed_payment
from tests.e2e.conftest import Gateway, free_port
from tests.e2e.test_dashboard_browser import log_in

SHOTS = Path(os.environ.get("CAURI_SHOTS") or tempfile.mkdtemp(prefix="dashdev-shots-"))
SHOTS.mkdir(parents=True, exist_ok=True)
PHONE = {"width": 360, "height": 780}


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cauri"
    server.shutdown()


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def fits(page: Page, name: str) -> None:
    """The page fits a 360 px phone without sideways scrolling (then its screenshot)."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} overflows a phone's width ({width}px)"
    await shot(page, name)


async def status(client: httpx.AsyncClient, base: str, secret: str) -> int:
    answer = await client.get(f"{base}/v1/balances", headers={"Authorization": f"Bearer {secret}"})
    return answer.status_code


async def test_rotate_a_key_use_the_new_one_and_revoke_the_old(
    browser: Browser, gateway: Gateway, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    owner = await new_user(engine, "owner", [merchant.id])
    page = await (await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})).new_page()
    await log_in(page, gateway.url, owner)
    await page.goto(f"{gateway.url}/dashboard/keys?app={merchant.id}")
    prefix = merchant.secret.split("|")[0]
    row = page.locator(f'tr.key[data-key="{prefix}"]')
    await expect(row).to_contain_text("active")
    await shot(page, "dev-01-keys")

    await row.locator("select[name=grace]").select_option("1")
    await row.locator("text=Rotate").click()
    new_secret = (await page.locator("#new-secret").inner_text()).strip()
    assert new_secret.startswith("pvk_sandbox_") and new_secret != merchant.secret
    await shot(page, "dev-02-key-rotated-secret-once")
    async with httpx.AsyncClient(timeout=10) as client:
        assert await status(client, gateway.url, new_secret) == 200
        assert await status(client, gateway.url, merchant.secret) == 200  # within its hour of grace
        await page.goto(f"{gateway.url}/dashboard/keys?app={merchant.id}")
        assert new_secret not in await page.content()  # shown once, never again
        await expect(row).to_contain_text("in its grace period")
        await row.locator("text=Revoke").click()
        await expect(page.locator(".notice")).to_contain_text("revoked")
        await expect(row).to_contain_text("revoked")
        assert await status(client, gateway.url, merchant.secret) == 401
        assert await status(client, gateway.url, new_secret) == 200
    await shot(page, "dev-03-key-revoked")
    await page.goto(f"{gateway.url}/dashboard/audit")
    await expect(page.locator("table.list")).to_contain_text("key.revoked")
    await expect(page.locator("table.list")).to_contain_text("key.rotated")


async def test_add_an_endpoint_and_send_it_a_test_event(
    browser: Browser, gateway: Gateway, engine: AsyncEngine, merchant: MerchantApp, receiver: str
) -> None:
    developer = await new_user(engine, "developer", [merchant.id])
    page = await (await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})).new_page()
    await log_in(page, gateway.url, developer)
    await page.goto(f"{gateway.url}/dashboard/webhooks?app={merchant.id}")
    await page.fill("input[name=url]", receiver)
    await page.check('input[name="event:payment.success"]')
    await page.click("text=Add the endpoint")
    secret = (await page.locator("#new-secret").inner_text()).strip()
    assert secret.startswith("whsec_")
    await shot(page, "dev-04-endpoint-added-secret-once")
    await page.goto(f"{gateway.url}/dashboard/webhooks?app={merchant.id}")
    assert secret not in await page.content()
    before = len(_Receiver.received)
    await page.locator("tr.endpoint").first.locator("text=Send a test event").click()
    await expect(page.locator(".notice")).to_contain_text("test event")
    for _ in range(50):  # the dispatcher sends within a moment
        if len(_Receiver.received) > before:
            break
        await page.wait_for_timeout(200)
    headers, body = _Receiver.received[-1]
    assert b'"event":"webhook.test"' in body
    assert headers["x-moneroo-signature"] == moneroo_signature(secret, body)  # the secret the page showed
    for _ in range(25):  # its delivery is recorded a moment after the answer
        await page.reload()
        if "100 %" in await page.locator("tr.endpoint").first.inner_text():
            break
        await page.wait_for_timeout(200)
    await expect(page.locator("tr.endpoint .success-rate").first).to_have_text("100 %")
    await shot(page, "dev-05-endpoint-tested")

    phone = await (await browser.new_context(locale="fr-FR", viewport=PHONE, is_mobile=True)).new_page()
    await log_in(phone, gateway.url, developer)
    await phone.goto(f"{gateway.url}/dashboard/webhooks?app={merchant.id}&lang=fr")
    await expect(phone.locator("h1")).to_have_text("Endpoints de webhook")
    await fits(phone, "dev-06-phone-webhooks-fr")
    await phone.goto(f"{gateway.url}/dashboard/keys?app={merchant.id}&lang=fr")
    await fits(phone, "dev-07-phone-keys-fr")
    await phone.goto(f"{gateway.url}/dashboard/emails?app={merchant.id}&lang=fr")
    await fits(phone, "dev-08-phone-emails-fr")


async def test_a_viewer_is_refused_a_developers_action(
    browser: Browser, gateway: Gateway, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    viewer = await new_user(engine, "viewer", [merchant.id])
    page = await (await browser.new_context(locale="en-US")).new_page()
    await log_in(page, gateway.url, viewer)
    await page.goto(f"{gateway.url}/dashboard/keys?app={merchant.id}")
    await expect(page.locator("text=Rotate")).to_have_count(0)
    await expect(page.locator("text=Create a key")).to_have_count(0)
    token = await page.locator("input[name=csrf]").first.get_attribute("value")
    refused = await page.request.post(f"{gateway.url}/dashboard/keys/create",
                                      form={"csrf": token or "", "app": merchant.id, "env": "live"})  # fmt: skip
    assert refused.status == 403
    await page.set_content(await refused.text())
    await expect(page.locator(".error")).to_contain_text("Your role does not allow this")
    await shot(page, "dev-09-viewer-refused")
    async with httpx.AsyncClient(timeout=10) as client:
        assert await status(client, gateway.url, merchant.secret) == 200


async def test_the_overview_matches_seeded_payments(
    browser: Browser, gateway: Gateway, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    now = utcnow()
    at = max(now - timedelta(minutes=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
    app = merchant.id
    await seed_payment(engine, app, at, 1500, "XOF", "success", [("mtn_bj", "failed"), ("mtn_bj", "success")])
    await seed_payment(engine, app, at, 2500, "XOF", "success", [("card_xof", "success")])
    await seed_payment(engine, app, at, 1000, "XOF", "failed", [("mtn_bj", "failed")])
    await seed_payment(engine, app, at, 300, "USD", "success", [("card_usd", "success")])
    stuck = await seed_payment(engine, app, at, 700, "XOF", "pending", [("mtn_bj", "pending")],
                               tried_at=now - timedelta(minutes=45))  # fmt: skip
    if now.day > 1:  # earlier this month: in the month's figures, not today's
        await seed_payment(engine, app, now.replace(day=1, hour=12), 5000, "XOF", "success", [("mtn_bj", "success")])
    owner = await new_user(engine, "owner", [app])
    page = await (await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})).new_page()
    await log_in(page, gateway.url, owner)
    await page.goto(f"{gateway.url}/dashboard/overview?app={app}")
    today, month = page.locator("section.figures").nth(0), page.locator("section.figures").nth(1)
    xof_today = today.locator('table.per-currency tr[data-currency="XOF"]')
    await expect(xof_today.locator(".count")).to_have_text("4")
    await expect(xof_today.locator(".succeeded")).to_have_text("2")
    await expect(xof_today.locator(".rate")).to_have_text("50 %")
    assert (await xof_today.locator(".volume").inner_text()).replace("\u202f", " ").replace("\xa0", " ") == (
        "F CFA 4,000"
    )
    await expect(today.locator('tr[data-method="mtn_bj"] .count')).to_have_text("4")
    await expect(today.locator('tr[data-method="mtn_bj"] .rate')).to_have_text("25 %")
    await expect(today.locator('tr[data-currency="USD"] .volume')).to_have_text("$300")
    earlier = 1 if now.day > 1 else 0
    xof_month = month.locator('table.per-currency tr[data-currency="XOF"]')
    await expect(xof_month.locator(".count")).to_have_text(str(4 + earlier))
    await expect(xof_month.locator(".succeeded")).to_have_text(str(2 + earlier))
    await expect(page.locator("section.flags")).to_contain_text(stuck)
    await expect(page.locator("svg.chart")).to_have_count(3)  # XOF and USD per day, rates per method
    await shot(page, "dev-10-overview")

    phone = await (await browser.new_context(locale="fr-FR", viewport=PHONE, is_mobile=True)).new_page()
    await log_in(phone, gateway.url, owner)
    await phone.goto(f"{gateway.url}/dashboard/overview?app={app}&lang=fr")
    await expect(phone.locator("h1")).to_have_text("Vue d'ensemble")
    await fits(phone, "dev-11-phone-overview-fr")
    chart = phone.locator("section.chart-box").first
    box = await chart.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]  # the chart scrolls inside its box
    await chart.screenshot(path=str(SHOTS / "dev-12-phone-chart-fr.png"))
