"""End-to-end fixtures: a real gateway on a loopback port, a merchant site to return to, and Chromium."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from cauri.app import create_app
from cauri.settings import Settings
from tests.conftest import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Gateway:
    url: str
    settings: Settings


@pytest.fixture
def gateway(settings: Settings) -> Iterator[Gateway]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live = settings.model_copy(
        update={
            "host": "127.0.0.1",
            "port": port,
            "public_url": url,
            "sandbox_delay_seconds": 0.3,
            "secret_key": "e2e-secret",
            "log_level": "warning",
        }
    )
    with serving(create_app(live), port):
        yield Gateway(url, live)


class _Merchant(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>Merchant</title><h1>Back at the shop</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="session")
def merchant_site() -> Iterator[str]:
    """The merchant's own site, where return_url points."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Merchant)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


def initialize(gateway: Gateway, secret: str, body: dict[str, object]) -> dict[str, str]:
    response = httpx.post(
        f"{gateway.url}/v1/payments/initialize", json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert response.status_code == 201, response.text
    data: dict[str, str] = response.json()["data"]
    return data


def verify(gateway: Gateway, secret: str, payment_id: str) -> dict[str, object]:
    response = httpx.get(
        f"{gateway.url}/v1/payments/{payment_id}/verify", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()["data"]
    return data
