"""Checkout page benchmark: page weight (gzip) with the requests a real browser makes, and server render time
under load.

    .venv/bin/python bench/checkout.py [--duration 10] [--connections 16] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
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


async def browser_requests(url: str) -> list[str]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = await browser.new_page()
        seen: list[str] = []
        page.on("request", lambda request: seen.append(request.url))
        await page.goto(url, wait_until="networkidle")
        await browser.close()
        return seen


def weight(urls: list[str]) -> list[tuple[str, int, int]]:
    rows = []
    with httpx.Client(timeout=10) as client:
        for url in urls:
            raw = client.get(url, headers={"Accept-Encoding": "identity"})
            gz = client.get(url, headers={"Accept-Encoding": "gzip"})
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
        env = {**os.environ, "CAURI_DATA_DIR": tmp, "CAURI_LOG_LEVEL": "warning"}
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
            created = httpx.post(
                f"{base}/v1/payments/initialize",
                headers={"Authorization": f"Bearer {secret}"},
                json={
                    "amount": 5000,
                    "currency": "XOF",
                    "description": "Commande #42",
                    "customer": {"email": "awa@example.com", "first_name": "Awa", "last_name": "Dossou"},
                    "return_url": "https://shop.example/return",
                },
            ).json()["data"]
            requests = asyncio.run(browser_requests(created["checkout_url"]))
            third_party = [u for u in requests if not u.startswith(base)]
            rows = weight([u for u in requests if u.startswith(base)])
            rps, p50, p99 = wrk_get(created["checkout_url"], args.duration, args.connections)
        finally:
            server.terminate()
            server.wait(10)
    print("| resource | bytes | bytes gzip |\n|---|---|---|")
    for path, raw, gz in rows:
        print(f"| {re.sub(r'py_[0-9a-z]+', '{id}', path)} | {raw:,} | {gz:,} |")
    print(f"| **total ({len(rows)} requests, {len(third_party)} third-party)** | {sum(r[1] for r in rows):,} "
          f"| {sum(r[2] for r in rows):,} |")  # fmt: skip
    print(f"\nGET /checkout/{{id}} on {args.db}, {args.connections} connections: {rps:,.0f} pages/s, "
          f"p50 {p50}, p99 {p99}")  # fmt: skip


if __name__ == "__main__":
    main()
