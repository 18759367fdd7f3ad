"""``/metrics`` after real traffic, on a database of the test's own so that every count is exact."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.domain.clock import utcnow
from cauri.metrics import route_label
from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.migrate import upgrade
from cauri.store.tables import deliveries
from tests.checkout.test_attempts import new_attempt, notification
from tests.conftest import new_merchant, payment_body, serving
from tests.outbox.conftest import Receiver

Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Scrape:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scrape: Scrape, name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def moved(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def own(fresh_url: str, tmp_path: Path) -> Settings:
    """A migrated database nobody else writes to, with a port for a real server."""
    port = _free_port()
    settings = Settings(
        database_url=fresh_url,
        data_dir=tmp_path,
        host="127.0.0.1",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        key_cache_seconds=0,
        log_level="warning",
        sandbox_delay_seconds=0,
        dispatcher_poll_seconds=0.05,
        webhook_retry_scale=0.0002,
    )
    await asyncio.to_thread(upgrade, settings)
    return settings


@pytest.fixture
async def own_engine(own: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(own)
    yield engine
    await engine.dispose()


@contextmanager
def running(settings: Settings) -> Iterator[str]:
    """The gateway in a real server (lifespan on: dispatcher, sandbox notifications), on loopback."""
    with serving(create_app(settings), settings.port):
        yield settings.public_url


async def scrape(client: httpx.AsyncClient, **headers: str) -> Scrape:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    return parse(response.text)


def test_route_labels_are_templates_without_convertors() -> None:
    assert route_label("/v1/payments/{payment_id:payment_id}/verify") == "/v1/payments/{payment_id}/verify"
    assert route_label("/v1/webhooks/{endpoint_id}") == "/v1/webhooks/{endpoint_id}"
    assert route_label(None) == "unmatched"


async def test_real_traffic_moves_requests_latency_attempts_deliveries_and_emails(
    own: Settings, own_engine: AsyncEngine, receiver: Receiver
) -> None:
    merchant = await new_merchant(own_engine)
    with running(own) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            before = await scrape(http)
            endpoint = await http.post("/v1/webhooks", json={"url": receiver.url}, headers=merchant.headers)
            assert endpoint.status_code == 201, endpoint.text
            created = await http.post(
                "/v1/payments/initialize",
                json=payment_body(currency="XOF", methods=["mtn_bj"]),
                headers=merchant.headers,
            )
            assert created.status_code == 201, created.text
            payment_id = created.json()["data"]["id"]
            assert (await http.get("/no/such/page")).status_code == 404
            missing = await http.get("/v1/payments/pay_nothing_here/verify", headers=merchant.headers)
            assert missing.status_code == 404

            # The customer pays through the hosted checkout; the sandbox notifies the outcome over HTTP.
            page = await http.get(f"/checkout/{payment_id}")
            token = page.text.split('name="csrf" value="')[1].split('"')[0]
            paid = await http.post(
                f"/checkout/{payment_id}/pay", data={"csrf": token, "method": "mtn_bj", "phone": "4149518161"}
            )
            assert paid.status_code == 303, paid.text

            deadline = time.monotonic() + 15
            while True:
                after = await scrape(http)
                events = [body for _, body in receiver.received]
                done = (
                    any(b'"payment.success"' in body for body in events)
                    and value(after, "cauri_outbox_pending_deliveries") == 0
                    and value(after, "cauri_outbox_pending_emails") == 0
                )
                if done or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)

    assert done, f"the outbox did not drain: {len(receiver.received)} webhooks received"
    requests = "cauri_http_requests_total"
    assert moved(before, after, requests, route="/v1/payments/initialize", method="POST", status="201") == 1
    assert moved(before, after, requests, route="unmatched", method="GET", status="404") == 1
    assert moved(before, after, requests, route="/v1/payments/{payment_id}/verify", method="GET", status="404") == 1
    assert moved(before, after, requests, route="/checkout/{payment_id}/pay", method="POST", status="303") == 1
    assert moved(before, after, requests, route="/connectors/{connector}/callback", method="POST", status="200") == 1
    assert moved(before, after, "cauri_initialize_seconds_count") == 1
    assert 0 < moved(before, after, "cauri_initialize_seconds_sum") < 5
    assert moved(before, after, "cauri_attempts_total", method="mtn_bj", outcome="success") == 1
    assert moved(before, after, "cauri_attempts_total", method="mtn_bj", outcome="failed") == 0
    # payment.initiated and payment.success, each delivered at the first try.
    assert len(receiver.received) == 2
    assert moved(before, after, "cauri_webhook_deliveries_total", outcome="delivered") == 2
    assert moved(before, after, "cauri_webhook_deliveries_total", outcome="retry") == 0
    assert moved(before, after, "cauri_emails_total", outcome="sent") == 1  # the customer's receipt
    assert value(after, "cauri_outbox_oldest_pending_delivery_age_seconds") == 0


async def test_the_backlog_is_read_from_the_database_at_scrape_time(
    own: Settings, own_engine: AsyncEngine, receiver: Receiver
) -> None:
    # An app without lifespan: no dispatcher runs, so what the outbox owes stays owed.
    transport = httpx.ASGITransport(app=create_app(own, own_engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
        empty = await scrape(client)
        assert value(empty, "cauri_outbox_pending_deliveries") == 0
        assert value(empty, "cauri_outbox_pending_emails") == 0
        assert value(empty, "cauri_outbox_oldest_pending_delivery_age_seconds") == 0
        assert value(empty, "cauri_outbox_oldest_due_delivery_lag_seconds") == 0

        merchant = await new_merchant(own_engine)
        await client.post("/v1/webhooks", json={"url": receiver.url}, headers=merchant.headers)
        created = await client.post(
            "/v1/payments/initialize", json=payment_body(currency="XOF", methods=["mtn_bj"]), headers=merchant.headers
        )
        payment_id = created.json()["data"]["id"]
        attempt_id = await new_attempt(own_engine, payment_id)
        applied = await notification(client, own.secret, attempt_id, "success")
        assert applied.status_code == 200 and applied.json()["applied"]

        now = utcnow()
        async with own_engine.begin() as conn:  # written two minutes ago, due for 30 s: no dispatcher runs
            await conn.execute(
                update(deliveries).values(
                    created_at=now - timedelta(seconds=120), next_attempt_at=now - timedelta(seconds=30)
                )
            )
        owed = await scrape(client)

    assert value(owed, "cauri_outbox_pending_deliveries") == 2  # payment.initiated and payment.success
    assert value(owed, "cauri_outbox_pending_emails") == 1  # the receipt
    assert 120 <= value(owed, "cauri_outbox_oldest_pending_delivery_age_seconds") < 180
    assert 30 <= value(owed, "cauri_outbox_oldest_due_delivery_lag_seconds") < 90
    assert receiver.received == []


async def test_a_token_guards_the_metrics(settings: Settings, engine: AsyncEngine) -> None:
    guarded = settings.model_copy(update={"metrics_token": "scrape-me-3f9a"})
    transport = httpx.ASGITransport(app=create_app(guarded, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
        for header in (None, "Bearer wrong", "Basic scrape-me-3f9a", "Bearer scrape-me-3f9é".encode("latin-1")):
            response = await client.get("/metrics", headers={"Authorization": header} if header else None)
            assert response.status_code == 401, header
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["success"] is False
        assert "cauri_http_requests_total" in str(await scrape(client, Authorization="Bearer scrape-me-3f9a"))
        assert (await client.get("/healthz")).status_code == 200  # the token guards /metrics only


async def test_disabled_metrics_are_not_found(settings: Settings, engine: AsyncEngine) -> None:
    disabled = settings.model_copy(update={"metrics_enabled": False})
    transport = httpx.ASGITransport(app=create_app(disabled, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200


async def test_an_unreachable_database_still_serves_the_counters(tmp_path: Path) -> None:
    # A loopback port nobody listens on: the backlog query fails at once.
    settings = Settings(database_url=f"postgresql://postgres@127.0.0.1:{_free_port()}/cauri", data_dir=tmp_path)
    engine = create_engine(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
            await client.get("/healthz")
            scraped = await scrape(client)
    finally:
        await engine.dispose()
    assert math.isnan(value(scraped, "cauri_outbox_pending_deliveries"))
    assert math.isnan(value(scraped, "cauri_outbox_oldest_pending_delivery_age_seconds"))
    assert value(scraped, "cauri_http_requests_total", route="/healthz", method="GET", status="200") >= 1


def test_serve_with_several_workers_reports_every_process_counts(
    env_without_cauri: dict[str, str], tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**env_without_cauri, "CAURI_DATA_DIR": str(tmp_path / "data"), "CAURI_LOG_LEVEL": "warning"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["TMPDIR"] = str(temp)  # where serve makes the processes' shared directory
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cauri", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "server did not start"
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        for _ in range(30):
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200  # a new connection each time
        # Whichever process answers a scrape, it reports the sum over both.
        for _ in range(4):
            text = httpx.get(f"{url}/metrics", timeout=5).text
            assert value(parse(text), "cauri_http_requests_total", route="/healthz", method="GET", status="200") == 30
        assert [p.name[:14] for p in temp.iterdir()] == ["cauri-metrics-"]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert list(temp.iterdir()) == []  # removed when serve exits
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR") is None
