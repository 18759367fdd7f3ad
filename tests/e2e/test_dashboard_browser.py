"""The dashboard in a real headless Chromium, against a real server whose dispatcher sends webhooks to a
receiver on loopback: log in, find a payment by its metadata, follow it, resend its webhook and see the new
try; a viewer refused an owner's action; forged forms, expired sessions and wrong passwords refused.

Screenshots go to ``CAURI_SHOTS`` (default: a temporary directory), outside the repository."""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.domain.clock import utcnow
from cauri.settings import Settings
from tests.api.test_refunds import paid_payment
from tests.conftest import MerchantApp, serving
from tests.dashboard.conftest import User, new_user
from tests.e2e.conftest import Gateway, free_port, initialize

SHOTS = Path(os.environ.get("CAURI_SHOTS") or tempfile.mkdtemp(prefix="dash-shots-"))
SHOTS.mkdir(parents=True, exist_ok=True)


class _Hooks(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).received += 1
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hooks() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def log_in(page: Page, base: str, user: User, password: str | None = None) -> None:
    await page.goto(f"{base}/dashboard/login?lang=en")
    await page.fill("input[name=email]", user.email)
    await page.fill("input[name=password]", password or user.password)
    await page.click("button[type=submit]")


async def test_find_a_payment_follow_it_and_resend_its_webhook(
    browser: Browser, gateway: Gateway, engine: AsyncEngine, merchant: MerchantApp, merchant_site: str, hooks: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        added = await client.post(f"{gateway.url}/v1/webhooks", json={"url": hooks},
                                  headers={"Authorization": f"Bearer {merchant.secret}"})  # fmt: skip
    assert added.status_code == 201, added.text
    order = f"ord-{secrets.token_hex(3)}"
    for n in range(3):
        initialize(gateway, merchant.secret, {
            "amount": 1500 + n, "currency": "XOF", "description": f"Commande {n}", "return_url": merchant_site,
            "customer": {"email": f"client{n}@example.com", "first_name": "Awa", "last_name": "Dossou"},
            "metadata": {"order_id": order if n == 1 else f"other-{n}"},
        })  # fmt: skip
    owner = await new_user(engine, "owner", [merchant.id])
    page = await (await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})).new_page()
    await log_in(page, gateway.url, owner)
    await expect(page).to_have_url(f"{gateway.url}/dashboard/payments")
    await expect(page.locator("table.list tbody tr")).to_have_count(3)
    await shot(page, "01-payments-list")

    await page.fill("input[name=meta]", f"order_id={order}")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("table.list tbody tr")).to_have_count(1)
    await expect(page.locator("table.list")).to_contain_text("client1@example.com")
    await shot(page, "02-search-by-metadata")

    await page.click("table.list tbody tr a")
    await expect(page.locator("h1")).to_contain_text("1,501")
    tries = page.locator("tr.try")
    for _ in range(50):  # the dispatcher sends payment.initiated within a moment
        if await tries.count() >= 1:
            break
        await page.wait_for_timeout(200)
        await page.reload()
    await expect(tries).to_have_count(1)
    await expect(page.locator("table.tries")).to_contain_text("200")
    await shot(page, "03-payment-timeline")

    await page.click("text=Resend webhook")
    await expect(page.locator(".notice")).to_contain_text("being sent again")
    for _ in range(50):
        if await tries.count() >= 2:
            break
        await page.wait_for_timeout(200)
        await page.reload()
    await expect(tries).to_have_count(2)
    await shot(page, "04-after-resend")

    # A forged form is refused, and nothing changes.
    payment_url = page.url.split("?")[0]
    forged = await page.request.post(f"{payment_url}/cancel", form={"csrf": "0" * 64})
    assert forged.status == 403

    await page.goto(f"{gateway.url}/dashboard/webhooks?app={merchant.id}&lang=en")
    await expect(page.locator("tr.endpoint")).to_contain_text(hooks)
    await expect(page.locator("tr.endpoint .success-rate")).to_have_text("100 %")  # both tries answered 200
    await page.goto(f"{gateway.url}/dashboard/keys?app={merchant.id}&lang=en")
    await page.locator("tr.key.active button", has_text="Rotate").click()
    await expect(page.locator("#new-secret")).to_contain_text("pvk_sandbox_")
    await shot(page, "05-developers-new-key")

    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        for amount in (25_000, 7_500):
            await paid_payment(client, engine, merchant, amount=amount)
    await page.goto(f"{gateway.url}/dashboard/overview?app={merchant.id}&lang=fr")
    await expect(page.locator(".figures").first).to_contain_text("32\u202f500")
    # A bar per day of the month so far (UTC) in the one currency's chart.
    await expect(page.locator("svg.chart").first.locator("rect.bar")).to_have_count(utcnow().day)
    await shot(page, "05c-overview-fr")

    await page.goto(f"{gateway.url}/dashboard/audit?lang=fr")
    await expect(page.locator("table.list")).to_contain_text("webhook.resent")
    await shot(page, "05b-audit-fr")

    phone = await (await browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844},
                                             is_mobile=True, has_touch=True)).new_page()  # fmt: skip
    await log_in(phone, gateway.url, owner)
    await phone.goto(f"{gateway.url}/dashboard/payments?lang=fr")
    await expect(phone.locator("table.list tbody tr")).to_have_count(5)
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the list overflows a phone's width ({width}px)"
    await shot(phone, "06-phone-list-fr")
    await phone.goto(payment_url)
    await shot(phone, "07-phone-payment-fr")


async def test_a_viewer_is_refused_an_owners_action(
    browser: Browser, gateway: Gateway, engine: AsyncEngine, merchant: MerchantApp, merchant_site: str
) -> None:
    created = initialize(gateway, merchant.secret, {
        "amount": 900, "currency": "XOF", "description": "Viewer", "return_url": merchant_site,
        "customer": {"email": "v@example.com", "first_name": "Awa", "last_name": "Dossou"},
    })  # fmt: skip
    viewer = await new_user(engine, "viewer", [merchant.id])
    page = await (await browser.new_context(locale="en-US")).new_page()
    await log_in(page, gateway.url, viewer)
    await page.goto(f"{gateway.url}/dashboard/payments/{created['id']}")
    await expect(page.locator("text=Cancel the payment")).to_have_count(0)
    token = await page.locator("input[name=csrf]").first.get_attribute("value")
    refused = await page.request.post(f"{gateway.url}/dashboard/payments/{created['id']}/cancel",
                                      form={"csrf": token or ""})  # fmt: skip
    assert refused.status == 403
    await page.set_content(await refused.text())
    await shot(page, "08-viewer-refused")
    await page.goto(f"{gateway.url}/dashboard/payments/{created['id']}")
    await expect(page.locator(".summary .status")).to_contain_text("initiated")


async def test_a_wrong_password_is_throttled(browser: Browser, gateway: Gateway, engine: AsyncEngine,
                                            merchant: MerchantApp) -> None:  # fmt: skip
    user = await new_user(engine, "developer", [merchant.id])
    page = await (await browser.new_context(locale="en-US")).new_page()
    for _ in range(gateway.settings.dashboard_failures_per_account):
        await log_in(page, gateway.url, user, password="not the password at all")
        await expect(page.locator(".error")).to_contain_text("Wrong email, password or code")
    await log_in(page, gateway.url, user)  # the right one, too late
    await expect(page.locator(".error")).to_contain_text("Too many failed logins")
    await shot(page, "09-throttled")


@pytest.fixture
def short_sessions(settings: Settings) -> Iterator[Gateway]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live = settings.model_copy(update={"port": port, "public_url": url, "secret_key": "e2e-secret",
                                       "log_level": "warning", "dashboard_idle_minutes": 0.03})  # fmt: skip
    with serving(create_app(live), port):
        yield Gateway(url, live)


async def test_an_idle_session_expires(
    browser: Browser, short_sessions: Gateway, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    user = await new_user(engine, "owner", [merchant.id])
    page = await (await browser.new_context(locale="en-US")).new_page()
    await log_in(page, short_sessions.url, user)
    await expect(page).to_have_url(f"{short_sessions.url}/dashboard/payments")
    await page.wait_for_timeout(2500)  # idle past 1.8 s
    await page.goto(f"{short_sessions.url}/dashboard/payments")
    await expect(page).to_have_url(f"{short_sessions.url}/dashboard/login")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert "cauri_session" not in cookies
