"""An aiosqlite connection closed while SQLAlchemy stops it (a connection it terminates, as at shutdown): the
close ends. Without ``store/aiosqlite_stop.py`` it waited forever for a second stop of a worker that had ended."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite

from cauri.store import aiosqlite_stop

SLOW = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c"


async def test_a_close_that_meets_a_stop_ends(tmp_path: Path) -> None:
    aiosqlite_stop.install()
    conn = await aiosqlite.connect(tmp_path / "stop.db")
    slow = asyncio.ensure_future(conn.execute(SLOW))  # the worker busy, as with a statement waiting on a lock
    await asyncio.sleep(0.01)
    closing = asyncio.ensure_future(conn.close())  # SQLAlchemy's graceful close...
    await asyncio.sleep(0.01)
    conn.stop()  # ...and, that wait cancelled, its forced one
    done, _ = await asyncio.wait([closing], timeout=10)
    assert closing in done, "the close never ended"
    await asyncio.wait([slow], timeout=10)
    conn._thread.join(10)
    assert not conn._thread.is_alive()  # the worker has ended: the stop queued first ran
