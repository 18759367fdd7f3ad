"""Fixtures: every storage test runs on SQLite and on PostgreSQL (a fresh database per run, dropped after).

``CAURI_TEST_DATABASES=sqlite`` (or ``postgresql``) narrows the run; by default both run, and a PostgreSQL
that cannot be reached fails the run rather than skipping it.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.domain.apps import Scope
from cauri.domain.payments import Environment, PaymentStatus
from cauri.services.apps import create_app as create_merchant_app
from cauri.services.runtime import Runtime, create_runtime
from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.migrate import upgrade
from cauri.store.uow import SqlUnitOfWork

PG_ADMIN_URL = os.environ.get("CAURI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASES = [d for d in os.environ.get("CAURI_TEST_DATABASES", "sqlite,postgresql").split(",") if d]


@dataclass(frozen=True)
class Database:
    kind: str
    url: str


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=DATABASES)
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "cauri.db"
        yield Database("sqlite", f"sqlite+aiosqlite:///{path}")
        return
    name = f"cauri_test_{secrets.token_hex(6)}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield Database("postgresql", f"{base}/{name}")
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Database:
    upgrade(Settings(database_url=database.url, data_dir=tmp_path_factory.mktemp("data")))
    return database


@pytest.fixture
def settings(migrated: Database, tmp_path: Path) -> Settings:
    return Settings(
        database_url=migrated.url,
        data_dir=tmp_path,
        public_url="http://cauri.test",
        lock_timeout_ms=300,
        key_cache_seconds=0,  # tests revoke keys between requests; the cache has its own tests
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cauri.test") as client:
        yield client
    # The transport runs no lifespan: the keys' "last used" writes are waited for here, before the engine goes.
    await app.state.gateway.key_usage.settle()
    await app.state.gateway.keys.settle()


@dataclass(frozen=True)
class MerchantApp:
    id: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", "Accept": "application/json"}


def uow(engine: AsyncEngine) -> SqlUnitOfWork:
    """A unit of work on ``engine``, as the services take it."""
    return SqlUnitOfWork(engine, public_url="http://cauri.test")


def runtime_of(settings: Settings, engine: AsyncEngine) -> Runtime:
    """The runtime a worker gets, on the test's engine (closed by the ``engine`` fixture)."""
    return create_runtime(settings, engine)


async def new_merchant(engine: AsyncEngine, *, live: bool = False, rate_limit: int = 0) -> MerchantApp:
    app, key = await create_merchant_app(
        uow(engine),
        f"Shop {secrets.token_hex(3)}",
        Environment.LIVE if live else Environment.SANDBOX,
        rate_limit=rate_limit,
        expiry_minutes=10,
    )
    return MerchantApp(app.id, key.secret)


@pytest.fixture
async def merchant(engine: AsyncEngine) -> MerchantApp:
    return await new_merchant(engine)


def payment_body(**overrides: object) -> dict[str, object]:
    """A valid initialize body (the seed's example), with fields replaced or removed (``None`` removes)."""
    body: dict[str, object] = {
        "amount": 100,
        "currency": "USD",
        "description": "Payment for order #123",
        "customer": {"email": "john@example.com", "first_name": "John", "last_name": "Doe"},
        "return_url": "https://example.com/payments/thank-you",
        "metadata": {"order_id": "123", "customer_id": "123"},
        "methods": ["qr_ngn", "bank_transfer_ngn"],
    }
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def env_without_cauri() -> Iterator[dict[str, str]]:
    yield {k: v for k, v in os.environ.items() if not k.startswith("CAURI_")}


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """``app`` in a real uvicorn server on loopback (lifespan on: dispatcher, jobs), in a thread; its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        loops.append(asyncio.get_running_loop())
        await server.serve()

    def run() -> None:  # as ``server.run()`` does, with the loop kept to report on
        with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
            runner.run(serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        if thread.is_alive():  # still draining connections or tasks: stop waiting for them
            warnings.warn(f"the server on port {port} did not stop in 20 s: forced to", stacklevel=1)
            server.force_exit = True
            thread.join(10)
        # A server left running keeps its engine, and maybe SQLite's write lock, past its test: a later test of
        # the session would fail creating a row after the 30 s busy timeout, far from the cause. Fail here.
        if thread.is_alive():
            frame = sys._current_frames().get(thread.ident or 0)
            where = "".join(traceback.format_stack(frame)) if frame else "(no frame)\n"
            report = (
                f"the server on port {port} did not stop in 30 s; its thread:\n{where}its tasks:\n{_tasks_of(loops)}"
            )
            failure = sys.exc_info()[1]
            if failure is None:
                pytest.fail(report)
            failure.add_note(report)  # the test's own failure stays the one reported


def _tasks_of(loops: list[asyncio.AbstractEventLoop]) -> str:
    """Where each task of a (stuck) server's loop is, read from another thread: for a report only."""
    out = io.StringIO()
    for task in asyncio.all_tasks(loops[0]) if loops else ():
        task.print_stack(file=out)
    return out.getvalue() or "(none)"


@pytest.fixture
def live_url(settings: Settings) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with serving(create_app(settings.model_copy(update={"public_url": url, "log_level": "warning"})), port):
        yield url


async def record_attempt(engine: AsyncEngine, attempt: dict[str, Any]) -> None:
    """Write a pending attempt as the checkout does (the payment becomes pending), without a connector."""
    async with uow(engine) as tx:
        payment = await tx.payments.find(attempt["payment_id"], lock=True)
        assert payment is not None
        await tx.attempts.add(attempt)
        if payment.status == "initiated":
            await tx.payments.move(payment.id, Scope(payment.app_id, payment.environment), PaymentStatus.PENDING)
        await tx.commit()
