"""Behind a reverse proxy: forwarded headers are believed from trusted proxies only, per-address limits count
the client rather than the proxy, and cookies and HSTS follow the scheme the customer used.

No traffic leaves the process: the peer address is the one the ASGI transport reports, and the forwarded
addresses are only header text (documentation ranges)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from cauri.api.forwarded import TrustedProxies, limit_key
from cauri.app import create_app
from cauri.checkout.security import SlidingWindow
from cauri.settings import Settings, parse_networks
from cauri.store.tables import attempts
from tests.conftest import MerchantApp, payment_body

PROXY = "127.0.0.1"  # the transport's peer: the proxy, when trusted
PENDING_PHONE = "4149518163"  # the sandbox leaves it pending: no outcome ends the payment mid-test


def trusted(setting: str) -> TrustedProxies:
    return TrustedProxies(parse_networks(setting))


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_the_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy() -> None:
    proxies = trusted("10.0.0.0/8, 127.0.0.1")
    peer = ip("127.0.0.1")
    # The client wrote "198.51.100.9" itself; the proxy appended the address it really saw.
    assert proxies.client(peer, "198.51.100.9, 203.0.113.7") == ip("203.0.113.7")
    # Two proxies (an edge at 10.1.2.3, then this one): skip both.
    assert proxies.client(peer, "198.51.100.9, 203.0.113.7, 10.1.2.3") == ip("203.0.113.7")
    # Ports, brackets and IPv4-mapped IPv6, as proxies write them.
    assert proxies.client(peer, "203.0.113.7:51000") == ip("203.0.113.7")
    assert proxies.client(peer, "[2001:db8::1]:443") == ip("2001:db8::1")
    assert proxies.client(peer, "::ffff:203.0.113.7") == ip("203.0.113.7")
    # A hop that is no address stops the walk at the last known hop, whatever lies left of it.
    assert proxies.client(peer, "203.0.113.7, unknown") == peer
    assert proxies.client(peer, "") == peer
    # Every hop trusted: the client was a trusted proxy itself.
    assert proxies.client(peer, "10.9.9.9") == ip("10.9.9.9")


def test_a_malformed_trusted_proxies_setting_is_refused_at_start_up() -> None:
    for bad in ("10.0.0.0/33", "localhost", "10.0.0.1;10.0.0.2"):
        with pytest.raises(ValidationError, match="trusted_proxies"):
            Settings(trusted_proxies=bad)
    assert Settings(trusted_proxies=" 10.0.0.1 , fd00::/8 ,").trusted_proxies


def test_ipv6_clients_are_limited_per_64() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("203.0.113.7") == "203.0.113.7"


@asynccontextmanager
async def gateway(
    settings: Settings, engine: AsyncEngine, *, base_url: str = "http://cauri.test", **update: object
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(settings.model_copy(update=update), engine)
    app.state.gateway.attempts_per_client = SlidingWindow(limit=2, seconds=600)
    transport = httpx.ASGITransport(app=app, client=(PROXY, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield app, client


async def new_payment(client: httpx.AsyncClient, merchant: MerchantApp) -> str:
    body = payment_body(currency="XOF", methods=["mtn_bj"])
    created = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["data"]["id"]
    return payment_id


async def checkout_token(client: httpx.AsyncClient, payment_id: str) -> str:
    """Open the checkout page (its CSRF cookie lands in the client) and take the form's token."""
    page = await client.get(f"/checkout/{payment_id}")
    return page.text.split('name="csrf" value="')[1].split('"')[0]


async def pay(client: httpx.AsyncClient, payment_id: str, token: str, forwarded_for: str) -> int:
    """One attempt, as a browser behind ``forwarded_for`` posts it; its status. (The first leaves the payment
    pending; the next are refused by the payment, 409, unless the per-address limit refuses them first, 429.)"""
    form = {"csrf": token, "method": "mtn_bj", "phone": PENDING_PHONE}
    headers = {"X-Forwarded-For": forwarded_for}
    response = await client.post(f"/checkout/{payment_id}/pay", data=form, headers=headers)
    return response.status_code


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    # Nobody trusted (the default), or proxies trusted elsewhere than the peer: the header is the client's word.
    for setting in ("", "10.0.0.0/8"):
        async with gateway(settings, engine, trusted_proxies=setting) as (_app, client):
            payment_id = await new_payment(client, merchant)
            token = await checkout_token(client, payment_id)
            statuses = [await pay(client, payment_id, token, f"198.51.100.{n}") for n in range(3)]
            assert statuses == [303, 409, 429]


async def test_behind_a_trusted_proxy_each_client_has_its_own_attempt_budget(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    async with gateway(settings, engine, trusted_proxies=PROXY) as (_app, client):
        payment_id = await new_payment(client, merchant)
        token = await checkout_token(client, payment_id)
        assert [await pay(client, payment_id, token, "203.0.113.7") for _ in range(2)] == [303, 409]
        # The same client, prefixing a made-up address, is still the same client.
        assert await pay(client, payment_id, token, "198.51.100.1, 203.0.113.7") == 429
        # Another customer behind the same proxy is not held back by the first one.
        other = await new_payment(client, merchant)
        assert await pay(client, other, await checkout_token(client, other), "203.0.113.8") == 303
    async with engine.connect() as conn:
        recorded = (await conn.execute(select(attempts.c.client_ip).where(attempts.c.payment_id == other))).scalars()
        assert list(recorded) == ["203.0.113.8"]  # the attempt records the customer, not the proxy


def cookie_flags(response: httpx.Response) -> dict[str, bool]:
    """Each cookie set by ``response``: whether it is Secure."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        found[name] = "secure" in [part.strip().lower() for part in header.split(";")]
    return found


async def test_cookies_are_secure_when_the_customer_uses_https(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    # The proxy speaks plain HTTP to the gateway and says nothing: the https public URL decides.
    async with gateway(settings, engine, public_url="https://pay.example.test") as (_app, client):
        payment_id = await new_payment(client, merchant)
        page = await client.get(f"/checkout/{payment_id}?lang=en")
        assert cookie_flags(page) == {"cauri_csrf": True, "cauri_lang": True}
    # An http public URL, but a trusted proxy says the customer came over https.
    async with gateway(settings, engine, trusted_proxies=PROXY) as (_app, client):
        payment_id = await new_payment(client, merchant)
        page = await client.get(f"/checkout/{payment_id}", headers={"X-Forwarded-Proto": "https"})
        assert cookie_flags(page) == {"cauri_csrf": True}
    # The same claim from an untrusted peer changes nothing.
    async with gateway(settings, engine) as (_app, client):
        payment_id = await new_payment(client, merchant)
        page = await client.get(f"/checkout/{payment_id}", headers={"X-Forwarded-Proto": "https"})
        assert cookie_flags(page) == {"cauri_csrf": False}


async def test_hsts_is_sent_over_https_only_and_only_when_configured(settings: Settings, engine: AsyncEngine) -> None:
    year = 31_536_000
    async with gateway(settings, engine, hsts_seconds=year, public_url="https://pay.example.test") as (_app, client):
        for path in ("/healthz", "/v1/payments", "/nowhere"):
            assert (await client.get(path)).headers.get_list("strict-transport-security") == [f"max-age={year}"]
    async with gateway(settings, engine, hsts_seconds=year, trusted_proxies=PROXY) as (_app, client):
        assert "strict-transport-security" not in (await client.get("/healthz")).headers
        behind = await client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert behind.headers["strict-transport-security"] == f"max-age={year}"
    async with gateway(settings, engine, hsts_seconds=year) as (_app, client):
        spoofed = await client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in spoofed.headers
    async with gateway(settings, engine, base_url="https://cauri.test") as (_app, client):
        assert "strict-transport-security" not in (await client.get("/healthz")).headers  # 0: off
