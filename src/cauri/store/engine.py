"""The async engine: SQLite for the embedded default, PostgreSQL in production, one code path above it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cauri.private_files import create_private, private_directory, tighten
from cauri.settings import Settings
from cauri.store import aiosqlite_stop
from cauri.store.sqlite_connection import CleanClose
from cauri.store.sqlite_writer import PAGE_SIZE, SQLiteWriter, attach_writer


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.resolved_database_url
    json = {"json_serializer": _dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        aiosqlite_stop.install()  # a terminated connection must not hang the loop (see the module)
        private_directory(settings.data_dir)
        # SQLite has one writer at a time: a single pooled connection queues requests in the process instead
        # of letting them fight over the file lock, and busy_timeout covers other processes (the CLI).
        engine = create_async_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            # A connection closed with a query cut short (cancelled at shutdown) lets go of its locks: see the class.
            connect_args={"timeout": 30, "factory": CleanClose},
            **json,
        )
        synchronous = settings.sqlite_synchronous
        event.listen(engine.sync_engine, "connect", lambda conn, _record: _tune_sqlite(conn, synchronous))
        path = engine.url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_database(Path(path))
            # The hot writes (initialize) skip the pool and aiosqlite's thread: see sqlite_writer.py.
            attach_writer(engine, SQLiteWriter(path, synchronous=synchronous, wait_ms=settings.lock_timeout_ms))
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


def _private_database(path: Path) -> None:
    """The database file made before SQLite makes it, so that it is 0600 from the start: SQLite gives its -wal
    and -shm files the database's mode. Those of an older install are tightened."""
    create_private(path)
    for companion in ("-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + companion))


def _tune_sqlite(dbapi_connection: Any, synchronous: str) -> None:
    cursor = dbapi_connection.cursor()
    # Only a new, empty file takes it (before the WAL mode writes the header): see sqlite_writer.py.
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit is in the log (the OS's page cache) before it returns, so it survives a
    # crash or kill of the process; FULL adds an fsync per commit so it survives a power loss too.
    cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
