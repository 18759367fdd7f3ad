"""A payment answered 201 survives a ``kill -9`` of the server, on the embedded store (SQLite) and on
PostgreSQL.

The server is a real ``cauri serve`` process on loopback. It is killed while requests are still in flight,
so some of its group commits (SQLite's, and PostgreSQL's grouped inserts) are cut short: every payment it had
answered must be in the database, with its event, its idempotency record and its webhook delivery, and (on
SQLite) be served again after a restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import DATABASES, PG_ADMIN_URL, _pg_admin, payment_body

IN_FLIGHT = 200
KILL_AFTER = 60  # answered payments


def cauri(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cauri", *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )


def start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cauri", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(url + "/utils/payment/methods", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


async def initialize_until_killed(url: str, secret: str, proc: subprocess.Popen[bytes]) -> dict[str, str]:
    """Send IN_FLIGHT payments at once; SIGKILL the server as soon as KILL_AFTER are answered 201.
    Returns idempotency key -> payment id of every 201 received."""
    answered: dict[str, str] = {}
    killed = asyncio.Event()
    headers = {"Authorization": f"Bearer {secret}"}

    async def one(client: httpx.AsyncClient, n: int) -> None:
        key = f"durable-{n}"
        try:
            response = await client.post(
                "/v1/payments/initialize", json=payment_body(), headers={**headers, "Idempotency-Key": key}
            )
        except httpx.TransportError:
            assert killed.is_set(), "a request failed before the server was killed"
            return
        assert response.status_code == 201, response.text
        answered[key] = response.json()["data"]["id"]
        if len(answered) >= KILL_AFTER and not killed.is_set():
            os.kill(proc.pid, signal.SIGKILL)  # right after the 201s, with the rest still in flight
            killed.set()

    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        await asyncio.gather(*(one(client, n) for n in range(IN_FLIGHT)))
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    return answered


async def answered_before_kill_9(env: dict[str, str]) -> tuple[dict[str, str], str]:
    """A merchant with a webhook endpoint, a server killed while its payments are in flight: what it had answered
    (idempotency key -> payment id) and the merchant's secret key."""
    secret = json.loads(cauri("apps", "create", "Durable", "--rate-limit", "0", "--json", env=env).stdout)["secret_key"]
    cauri("webhooks", "add", "Durable", "https://shop.example/hooks", env=env)
    proc, url = start(env)
    try:
        answered = await initialize_until_killed(url, secret, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(answered) >= KILL_AFTER
    return answered, secret


@pytest.mark.skipif("sqlite" not in DATABASES, reason="the embedded store")
@pytest.mark.parametrize("synchronous", ["normal", "full"])
async def test_every_answered_payment_survives_kill_9(
    env_without_cauri: dict[str, str], tmp_path: Path, synchronous: str
) -> None:
    env = {
        **env_without_cauri,
        "CAURI_DATA_DIR": str(tmp_path),
        "CAURI_LOG_LEVEL": "warning",
        "CAURI_SQLITE_SYNCHRONOUS": synchronous,
        "CAURI_DISPATCHER_IN_SERVE": "false",  # keep every delivery pending, to be counted
    }
    answered, secret = await answered_before_kill_9(env)

    # The file as the killed process left it (SQLite replays its log on opening).
    with sqlite3.connect(tmp_path / "cauri.db") as db:
        ids = list(answered.values())
        marks = ",".join("?" * len(ids))
        stored = {r[0] for r in db.execute(f"SELECT id FROM payments WHERE id IN ({marks})", ids)}  # noqa: S608
        assert stored == set(ids), f"{len(set(ids) - stored)} answered payments were lost"
        per_payment = dict(
            db.execute(
                "SELECT e.payment_id, count(d.id) FROM events e JOIN deliveries d ON d.event_id = e.id "  # noqa: S608
                f"WHERE e.payment_id IN ({marks}) GROUP BY e.payment_id",
                ids,
            ).fetchall()
        )
        assert per_payment == dict.fromkeys(ids, 1), "each has its event and its webhook delivery"
        keys = {r[0] for r in db.execute("SELECT key FROM idempotency_keys WHERE key LIKE 'durable-%'")}
        assert set(answered) <= keys

    # And the restarted server serves them: verify finds each, a retry with its key replays it.
    proc, url = start(env)
    try:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {secret}"}) as client:
            for payment_id in answered.values():
                verified = await client.get(f"/v1/payments/{payment_id}/verify")
                assert verified.status_code == 200, verified.text
                assert verified.json()["data"]["id"] == payment_id
            key, payment_id = next(iter(answered.items()))
            again = await client.post("/v1/payments/initialize", json=payment_body(), headers={"Idempotency-Key": key})
            assert again.status_code == 201
            assert again.headers["Idempotent-Replayed"] == "true"
            assert again.json()["data"]["id"] == payment_id
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.skipif("postgresql" not in DATABASES, reason="PostgreSQL")
async def test_every_answered_payment_survives_kill_9_on_postgresql(
    env_without_cauri: dict[str, str], tmp_path: Path
) -> None:
    name = f"cauri_durable_{os.getpid()}_{time.monotonic_ns()}"
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        env = {
            **env_without_cauri,
            "CAURI_DATA_DIR": str(tmp_path),
            "CAURI_DATABASE_URL": url,
            "CAURI_LOG_LEVEL": "warning",
            "CAURI_DISPATCHER_IN_SERVE": "false",  # keep every delivery pending, to be counted
        }
        answered, _secret = await answered_before_kill_9(env)

        db = await asyncpg.connect(url)
        try:
            ids = list(answered.values())
            stored = {r["id"] for r in await db.fetch("SELECT id FROM payments WHERE id = ANY($1)", ids)}
            assert stored == set(ids), f"{len(set(ids) - stored)} answered payments were lost"
            rows = await db.fetch(
                "SELECT e.payment_id, count(d.id) AS n FROM events e JOIN deliveries d ON d.event_id = e.id "
                "WHERE e.payment_id = ANY($1) GROUP BY e.payment_id",
                ids,
            )
            assert {r["payment_id"]: r["n"] for r in rows} == dict.fromkeys(ids, 1), "each has its event and delivery"
            keys = {r["key"] for r in await db.fetch("SELECT key FROM idempotency_keys WHERE key LIKE 'durable-%'")}
            assert set(answered) <= keys
        finally:
            await db.close()
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
