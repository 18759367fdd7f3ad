"""The example shop, end to end in Chromium: buy, pay on the hosted checkout, come back verified, and get
each order fulfilled exactly once even when its webhook is delivered twice."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, expect

from tests.conftest import MerchantApp
from tests.e2e.conftest import Gateway, free_port

SHOP = Path(__file__).parents[2] / "examples" / "shop" / "app.py"


def load_shop() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_shop", SHOP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def shop(gateway: Gateway, merchant: MerchantApp, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    hook = httpx.post(
        f"{gateway.url}/v1/webhooks", json={"url": f"{url}/webhooks/cauri"},
        headers={"Authorization": f"Bearer {merchant.secret}"}, timeout=10,
    ).json()["data"]  # fmt: skip
    module = load_shop()
    settings = module.ShopSettings(
        api_url=f"{gateway.url}/v1", secret_key=merchant.secret, webhook_secret=hook["secret"], shop_url=url,
        database=str(tmp_path / "shop.db"),
    )  # fmt: skip
    server = uvicorn.Server(uvicorn.Config(module.create_shop(settings), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield url
    server.should_exit = True
    thread.join(5)


async def fulfilments(http: httpx.AsyncClient, shop: str, order: int) -> int:
    count: int = (await http.get(f"{shop}/orders/{order}")).json()["fulfilments"]
    return count


async def test_buy_pay_return_and_fulfil_once(
    browser: Browser, gateway: Gateway, merchant: MerchantApp, shop: str
) -> None:
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(shop)
    await page.click("#buy")
    await page.wait_for_url(f"{gateway.url}/checkout/**")
    await page.select_option("#country-select", "BJ")  # the shop's payment may be paid from eight countries
    await page.check("input[value=mtn_bj]")
    await page.fill("#phone", "4149518161")
    await page.click("#pay")
    await page.wait_for_url(f"{shop}/return**", timeout=15_000)
    await expect(page.locator("#status")).to_have_text("Order 1 is paid. Thank you!")

    headers = {"Authorization": f"Bearer {merchant.secret}"}
    async with httpx.AsyncClient(timeout=5) as http:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and await fulfilments(http, shop, 1) == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        assert await fulfilments(http, shop, 1) == 1
        # The same event delivered again (as a retry would): still one fulfilment.
        events = (await http.get(f"{gateway.url}/v1/events", headers=headers)).json()["data"]
        success = next(e for e in events if e["type"] == "payment.success")
        resent = await http.post(f"{gateway.url}/v1/events/{success['id']}/resend", headers=headers)
        assert resent.is_success
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            listed = (await http.get(f"{gateway.url}/v1/events", headers=headers)).json()["data"]
            again = next(e for e in listed if e["id"] == success["id"])["deliveries"]
            if again and all(d["status"] == "delivered" and d["attempts"] >= 1 for d in again):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        assert await fulfilments(http, shop, 1) == 1
