"""``/healthz`` and ``/readyz`` on each database: current, unmigrated, behind, ahead, unreachable, silent."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from cauri.app import create_app
from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.migrate import upgrade
from cauri.store.monitoring import code_revisions

HEAD = ",".join(sorted(code_revisions()))


async def get(settings: Settings, path: str) -> httpx.Response:
    engine = create_engine(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
            return await client.get(path)
    finally:
        await engine.dispose()


def at(url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(database_url=url, data_dir=tmp_path, **extra)


async def test_healthz_answers_without_a_key_and_is_never_cached(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["cache-control"] == "no-store"
    assert len(response.content) < 100


async def test_readyz_is_ready_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "database_revision": HEAD, "code_revision": HEAD}
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_refuses_an_unmigrated_database(fresh_url: str, tmp_path: Path) -> None:
    response = await get(at(fresh_url, tmp_path), "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database_revision"] == "none"
    assert "no schema" in body["reason"] and "cauri migrate" in body["reason"]
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_refuses_a_database_behind_the_code(fresh_url: str, tmp_path: Path) -> None:
    settings = at(fresh_url, tmp_path)
    await asyncio.to_thread(upgrade, settings, "0003")  # alembic runs its own event loop
    response = await get(settings, "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["database_revision"] == "0003" and body["code_revision"] == HEAD
    assert "pending" in body["reason"]

    await asyncio.to_thread(upgrade, settings)  # once migrated, the same database is ready
    assert (await get(settings, "/readyz")).status_code == 200


async def test_readyz_refuses_a_database_migrated_by_a_newer_release(fresh_url: str, tmp_path: Path) -> None:
    settings = at(fresh_url, tmp_path)
    await asyncio.to_thread(upgrade, settings)
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engine.dispose()
    response = await get(settings, "/readyz")
    assert response.status_code == 503
    assert response.json()["database_revision"] == "9999"
    assert "newer than this code" in response.json()["reason"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_database_is_not_ready_but_the_process_is_alive(tmp_path: Path) -> None:
    # A loopback port nobody listens on: the connection is refused at once.
    settings = at(f"postgresql://postgres@127.0.0.1:{_free_port()}/cauri", tmp_path)
    assert (await get(settings, "/healthz")).status_code == 200
    response = await get(settings, "/readyz")
    assert response.status_code == 503
    assert "unreachable" in response.json()["reason"]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


async def test_a_database_that_does_not_answer_fails_readiness_within_the_timeout(
    silent_server: int, tmp_path: Path
) -> None:
    settings = at(f"postgresql://postgres@127.0.0.1:{silent_server}/cauri", tmp_path, health_timeout_seconds=0.3)
    started = time.monotonic()
    response = await get(settings, "/readyz")
    assert time.monotonic() - started < 3  # asyncpg's own connect timeout is 10 s
    assert response.status_code == 503
    assert response.json()["reason"] == "the database did not answer within 0.3 s"
