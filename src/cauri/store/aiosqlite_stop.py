"""One stop of an aiosqlite connection's worker thread, however many are asked for.

SQLAlchemy terminates a connection it invalidates (a query cancelled mid-way, as at shutdown) by closing it
gracefully and, if that is cancelled too, by stopping it (``aiosqlite.Connection.stop``). With aiosqlite 0.22,
``close()`` then asks for a second stop in its ``finally`` and waits for it; the worker thread has already
ended on the first, so that wait never ends. The server's loop hung at shutdown on it, with the connection
(and SQLite's write lock, when it was writing) held until the process ended: the next writer in that process
gave up after the 30 s busy timeout ("database is locked"). Here a stop asked for once the worker is stopping
queues nothing and returns no future to wait for: the stop queued first closes the connection and ends the
thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiosqlite.core import Connection

_stop = Connection.stop


def _stop_once(self: Connection) -> asyncio.Future[Any] | None:
    if not getattr(self, "_running", True):
        return None  # stopping already: what was queued first ends the worker
    return _stop(self)


def install() -> None:
    """Idempotent: called where the engine is made."""
    if Connection.stop is not _stop_once:
        Connection.stop = _stop_once  # type: ignore[method-assign]
