"""The sqlite3 connection class the engine's SQLite connections are made of: its close rolls back first.

``sqlite3.Connection.close()`` leaves a transaction open when a statement of it is still live (a cursor that
stepped and was never reset or freed: a query cancelled between its execute and its fetch, its cursor kept
by a traceback until the collector runs). SQLite then keeps the connection as a "zombie" until that statement
is finalized, and a write transaction's lock with it: every other writer, the CLI's included, waited out its
busy timeout and failed with "database is locked". A rollback ends the transaction whatever is still live.
"""

from __future__ import annotations

import contextlib
import sqlite3


class RollbackOnClose(sqlite3.Connection):
    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # the close below happens whatever the rollback says
            if self.in_transaction:
                self.rollback()
        super().close()
