"""An engine's SQLite connection closed with one of its statements still live (as when a query is cancelled
between its execute and its fetch) lets go of the file at once: a write transaction's lock (another writer
gets it), a read snapshot (a checkpoint can start the log over). Without ``store/sqlite_connection.py`` both
stayed held until the statement's cursor was collected."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from cauri.settings import Settings
from cauri.store.engine import create_engine


def writable(path: Path) -> bool:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None, timeout=0.5)) as other:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        other.execute("ROLLBACK")
        return True


def log_can_start_over(path: Path) -> bool:
    """A checkpoint that restarts the log waits for every reader of it: busy while a snapshot is held."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None, timeout=0)) as other:
        busy, _frames, _copied = other.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        return bool(busy == 0)


@pytest.mark.parametrize("held", ["write", "read"])
@pytest.mark.parametrize("how", ["close", "stop"])
async def test_a_connection_closed_with_a_live_statement_lets_go_of_the_file(
    tmp_path: Path, how: str, held: str
) -> None:
    path = tmp_path / "cauri.db"
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}", data_dir=tmp_path))
    free = writable if held == "write" else log_can_start_over
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE notes (body TEXT)"))
            await conn.execute(text("INSERT INTO notes VALUES ('kept')"))
            await conn.commit()
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            if held == "write":
                await conn.execute(text("INSERT INTO notes VALUES ('half')"))  # the write transaction is open
                live = await driver.execute("SELECT body FROM notes")  # aiosqlite's execute: no cursor() of ours
            else:
                live = await driver.cursor()  # the cursors SQLAlchemy's queries use
                await live.execute("SELECT body FROM notes")  # stepped, never fetched: a snapshot of the log
            assert not free(path)
            # SQLAlchemy terminates the connection of a cancelled query: a graceful close, or if that is cut
            # short too, a stop of aiosqlite's thread, which closes the connection there.
            if how == "close":
                await driver.close()
            else:
                stopped = driver.stop()
                assert stopped is not None
                await stopped
            assert free(path), f"the closed connection still holds its {held}"
            await conn.invalidate()
        assert live is not None  # the cursor is alive until here: only the close could let go
    finally:
        await engine.dispose()
    with contextlib.closing(sqlite3.connect(path)) as check:
        assert check.execute("SELECT body FROM notes").fetchall() == [("kept",)]  # 'half' rolled back
