"""An engine's SQLite connection closed in the middle of a write transaction, with one of its statements still
live (as when a query is cancelled between its execute and its fetch): another writer gets the lock at once.
Without ``store/sqlite_connection.py`` the lock stayed held until the statement's cursor was collected."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from cauri.settings import Settings
from cauri.store.engine import create_engine


def writable(path: Path) -> bool:
    other = sqlite3.connect(path, isolation_level=None, timeout=0.5)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


@pytest.mark.parametrize("how", ["close", "stop"])
async def test_a_connection_closed_mid_write_lets_go_of_the_lock(tmp_path: Path, how: str) -> None:
    path = tmp_path / "cauri.db"
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}", data_dir=tmp_path))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE notes (body TEXT)"))
            await conn.commit()
            await conn.execute(text("INSERT INTO notes VALUES ('half')"))  # the write transaction is open
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            live = await driver.execute("SELECT body FROM notes")  # stepped, never fetched: a live statement
            assert not writable(path)
            # SQLAlchemy terminates the connection of a cancelled query: a graceful close, or if that is cut
            # short too, a stop of aiosqlite's thread, which closes the connection there.
            if how == "close":
                await driver.close()
            else:
                stopped = driver.stop()
                assert stopped is not None
                await stopped
            assert writable(path), "the closed connection still holds the write lock"
            await conn.invalidate()
        assert live is not None  # the cursor is alive until here: only the rollback could free the lock
    finally:
        await engine.dispose()
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM notes").fetchone() == (0,)  # rolled back, not committed
    check.close()
