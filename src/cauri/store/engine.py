"""The async engine: SQLite for the embedded default, PostgreSQL in production, one code path above it."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cauri.settings import Settings


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.resolved_database_url
    json = {"json_serializer": _dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # SQLite has one writer at a time: a single pooled connection queues requests in the process instead
        # of letting them fight over the file lock, and busy_timeout covers other processes (the CLI).
        engine = create_async_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=30, connect_args={"timeout": 30}, **json
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(
        url,
        # No overflow: an overflow connection is closed as soon as it is returned, and opening one (TLS
        # negotiation included) costs more than waiting a moment for a pooled one.
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        **json,
        connect_args={
            "server_settings": {
                "lock_timeout": str(settings.lock_timeout_ms),
                "application_name": "cauri",
            },
            "timeout": 10,
            "command_timeout": 30,
        },
    )


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
