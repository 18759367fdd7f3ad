"""Checkout page benchmark: the weight of each step a customer sees (gzip, with every request a real browser
makes for it, on a 360 px phone), and server render time under load.

Steps: the country, that country's mobile money, the card form, waiting for the phone's confirmation, the
transfer's and the QR code's instructions, and the result. Each step's weight counts its page and the
assets it loads (the first step loads them; later steps find them in the browser's cache, as a real phone
would, but are weighed as if it were empty: the worst case).

    .venv/bin/python bench/checkout.py [--duration 10] [--connections 16] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).parent))
from run import BIN, free_port, postgres_database, wait_ready

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "locale": "en-US"}


Step = tuple[str, list[tuple[str, int, int]], list[str]]


async def walk_steps(base: str, secret: str) -> list[Step]:
    """Walks a customer through each step in Chromium; for each, the GET requests the browser made to show it
    (weighed at once, while the page still shows that step) and those that left for another origin."""
    steps: list[Step] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

        async def visit(name: str, body: dict[str, object], walk: list[tuple[str, str, str]]) -> None:
            context = await browser.new_context(**PHONE)  # type: ignore[arg-type]
            page = await context.new_page()
            seen: list[str] = []
            page.on("request", lambda request: seen.append(request.url) if request.method == "GET" else None)
            await page.goto(initialize(base, secret, body), wait_until="networkidle")
            for action, selector, value in walk:
                seen.clear()
                if action == "fill":
                    await page.fill(selector, value)
                    continue
                if action == "check":
                    await page.check(selector)
                    continue
                async with page.expect_navigation():
                    if action == "select":  # the script shows the country's methods
                        await page.select_option(selector, value)
                    else:
                        await page.click(selector)
                await page.wait_for_load_state("networkidle")
            urls = [u for u in seen if not u.startswith("data:")]
            steps.append((name, weight([u for u in urls if u.startswith(base)]),
                          [u for u in urls if not u.startswith(base)]))  # fmt: skip
            await context.close()

        xof = {"currency": "XOF"}
        await visit("country", xof, [])
        await visit("mobile money (Benin)", xof, [("select", "#country-select", "BJ")])
        await visit("card form", xof, [("select", "#country-select", "BJ"), ("click", "#kind-card", "")])
        # The sandbox's number that never answers, so the waiting page stays to be weighed.
        pending = [("select", "#country-select", "BJ"), ("fill", "#phone", "4149518163"),
                   ("check", "input[value=mtn_bj]", ""), ("click", "#pay", "")]  # fmt: skip
        await visit("waiting (phone)", xof, pending)
        await visit(
            "transfer instructions", {"currency": "NGN", "methods": ["bank_transfer_ng"]}, [("click", "#pay", "")]
        )
        await visit("QR code", {"currency": "NGN", "methods": ["qr_ngn"]}, [("click", "#pay", "")])
        await visit("result (cancelled)", xof, [*pending, ("click", "#cancel", "")])
        await browser.close()
    return steps


def initialize(base: str, secret: str, overrides: dict[str, object]) -> str:
    body = {
        "amount": 5000,
        "description": "Commande #42",
        "customer": {"email": "awa@example.com", "first_name": "Awa", "last_name": "Dossou"},
        "return_url": "https://shop.example/return",
        **overrides,
    }
    created = httpx.post(f"{base}/v1/payments/initialize", headers={"Authorization": f"Bearer {secret}"}, json=body)
    url: str = created.json()["data"]["checkout_url"]
    return url


def weight(urls: list[str]) -> list[tuple[str, int, int]]:
    """Each resource as the browser got it (the step's page is fetched again: it shows the same state)."""
    rows = []
    with httpx.Client(timeout=10, follow_redirects=True) as client:
        for url in dict.fromkeys(urls):
            raw = client.get(url, headers={"Accept-Encoding": "identity", "Accept-Language": "en-US"})
            gz = client.get(url, headers={"Accept-Encoding": "gzip", "Accept-Language": "en-US"})
            rows.append((urlsplit(url).path, len(raw.content), gz.num_bytes_downloaded))
    return rows


def wrk_get(url: str, seconds: int, connections: int) -> tuple[float, str, str]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rps, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as pg:
        # A sandbox that answers later than the walk takes, so each waiting step can be weighed as it is shown.
        env = {**os.environ, "CAURI_DATA_DIR": tmp, "CAURI_LOG_LEVEL": "warning", "CAURI_SANDBOX_DELAY_SECONDS": "30"}
        if args.db == "postgres":
            env["CAURI_DATABASE_URL"] = pg
        port = free_port()
        secret = json.loads(
            subprocess.run(
                [str(BIN / "cauri"), "apps", "create", "bench", "--rate-limit", "0", "--json"],
                env=env,
                capture_output=True,
                check=True,
            ).stdout
        )["secret_key"]
        server = subprocess.Popen([str(BIN / "cauri"), "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            if not wait_ready(port, server):
                raise SystemExit("cauri did not start")
            base = f"http://127.0.0.1:{port}"
            weighed = asyncio.run(walk_steps(base, secret))
            # The render time needs wrk; without it, the weights alone.
            load = wrk_get(initialize(base, secret, {"currency": "XOF"}), args.duration, args.connections) if (
                shutil.which("wrk")) else None  # fmt: skip
        finally:
            server.terminate()
            server.wait(10)
    print("| step | resources | bytes | bytes gzip | page alone, gzip |\n|---|---|---|---|---|")
    for name, rows, third_party in weighed:
        paths = ", ".join(re.sub(r"py_[0-9a-z]+", "{id}", path) for path, _, _ in rows)
        page = sum(gz for path, _, gz in rows if path.startswith("/checkout/"))
        print(f"| {name} | {len(rows)} ({len(third_party)} third-party): {paths} | {sum(r[1] for r in rows):,} "
              f"| {sum(r[2] for r in rows):,} | {page:,} |")  # fmt: skip
    if load is None:
        print("\n(wrk is not installed: no render time)")
    else:
        rps, p50, p99 = load
        print(f"\nGET /checkout/{{id}} on {args.db}, {args.connections} connections: {rps:,.0f} pages/s, "
              f"p50 {p50}, p99 {p99}")  # fmt: skip


if __name__ == "__main__":
    main()
