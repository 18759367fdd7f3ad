"""Two servers and two workers on one database under a burst of 1,000 payments: every webhook arrives, none
is sent twice."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx

from tests.cli.test_cli import cauri, serve, stop, wait_ready
from tests.conftest import Database, payment_body
from tests.outbox.conftest import Receiver
from tests.outbox.test_worker_process import worker

PAYMENTS = 1000


async def burst(urls: list[str], secret: str) -> list[str]:
    headers = {"Authorization": f"Bearer {secret}"}
    limit = asyncio.Semaphore(16)
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:

        async def one(i: int) -> str:
            async with limit:
                response = await client.post(f"{urls[i % 2]}/v1/payments/initialize", json=payment_body())
                assert response.status_code == 201, response.text
                payment_id: str = response.json()["data"]["id"]
                return payment_id

        return list(await asyncio.gather(*(one(i) for i in range(PAYMENTS))))


def test_a_burst_through_two_servers_and_two_workers(
    migrated: Database, receiver: Receiver, tmp_path: Path, env_without_cauri: dict[str, str]
) -> None:
    env = {
        **env_without_cauri,
        "CAURI_DATABASE_URL": migrated.url,
        "CAURI_DATA_DIR": str(tmp_path),
        "CAURI_SECRET_KEY": "burst-test",
        "CAURI_LOG_LEVEL": "warning",
    }
    app = json.loads(cauri("apps", "create", "Burst", "--rate-limit", "0", "--json", env=env).stdout)
    assert cauri("webhooks", "add", "Burst", receiver.url, "--json", env=env).returncode == 0
    servers = [serve(env), serve(env)]  # each runs a dispatcher too
    workers: list[subprocess.Popen[bytes]] = [worker(env), worker(env)]
    try:
        for proc, url in servers:
            wait_ready(url, proc)
        ids = asyncio.run(burst([url for _, url in servers], app["secret_key"]))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(receiver.received) < PAYMENTS:
            time.sleep(0.2)
        time.sleep(1)  # anything sent twice would arrive now
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(10)
        stop(*(proc for proc, _ in servers))
    delivered = [json.loads(body)["data"]["id"] for _, body in receiver.received]
    assert sorted(delivered) == sorted(ids)  # all of them, each exactly once
