"""Databases of their own, for tests that put one in a state the shared session database must not be in."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL, Database, _pg_admin
from tests.outbox.conftest import Receiver, _serve_receiver


@pytest.fixture
async def fresh_url(database: Database, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind as this run's, dropped after the test."""
    if database.kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"cauri_fresh_{secrets.token_hex(6)}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on loopback (the outbox tests' own)."""
    yield from _serve_receiver()
