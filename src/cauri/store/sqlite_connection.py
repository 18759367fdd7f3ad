"""The sqlite3 connection class the engine's SQLite connections are made of: its close lets go of the file.

``sqlite3.Connection.close()`` leaves a connection open when a statement of it is still live (a cursor that
stepped and was never reset or freed: a query cancelled between its execute and its fetch, its cursor kept by
a traceback until the collector runs). SQLite keeps such a connection as a "zombie" until that statement is
finalized, and with it what it held: a write transaction's lock (every other writer, the CLI's included, waited
out its busy timeout and failed with "database is locked"), or a read snapshot (the writer's checkpoints could
not start the log over, and it grew).
"""

from __future__ import annotations

import contextlib
import sqlite3
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, overload

_Cursor = TypeVar("_Cursor", bound=sqlite3.Cursor)


class CleanClose(sqlite3.Connection):
    """Closes the cursors it made, and rolls back what is still open, before it closes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: weakref.WeakSet[sqlite3.Cursor] = weakref.WeakSet()

    @overload
    def cursor(self, factory: None = None) -> sqlite3.Cursor: ...
    @overload
    def cursor(self, factory: Callable[[sqlite3.Connection], _Cursor]) -> _Cursor: ...
    def cursor(self, factory: Callable[[sqlite3.Connection], sqlite3.Cursor] | None = None) -> sqlite3.Cursor:
        made = super().cursor() if factory is None else super().cursor(factory)
        self._cursors.add(made)  # every cursor SQLAlchemy's queries use is made here
        return made

    def close(self) -> None:
        try:
            for made in list(self._cursors):
                with contextlib.suppress(sqlite3.Error):  # the connection is closed already
                    made.close()  # resets its statement
            # A statement made without cursor() (Connection.execute, which aiosqlite's own execute calls) may
            # still be live: the rollback ends its transaction all the same.
            with contextlib.suppress(sqlite3.Error):
                if self.in_transaction:
                    self.rollback()
        finally:
            super().close()
