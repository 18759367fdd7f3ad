"""What operators ask the database: its schema revision, and how much the outbox has yet to send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.clock import as_utc
from cauri.store.tables import deliveries, emails


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(Path(str(files("cauri.store"))) / "migrations"))


@cache
def code_revisions() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code; read once, they cannot change."""
    return frozenset(_scripts().get_heads())


@cache
def known_revisions() -> frozenset[str]:
    """Every revision this code ships: a database stamped with another was migrated by a newer release."""
    return frozenset(script.revision for script in _scripts().walk_revisions())


async def database_revisions(conn: AsyncConnection) -> frozenset[str]:
    """The revision(s) the database is stamped with; empty when it was never migrated."""

    def read(sync: Connection) -> frozenset[str]:
        return frozenset(MigrationContext.configure(sync).get_current_heads())

    return await conn.run_sync(read)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    pending_deliveries: int
    pending_emails: int
    oldest_pending_created_at: datetime | None
    oldest_pending_due_at: datetime | None


async def outbox_backlog(conn: AsyncConnection) -> OutboxRow:
    """One statement of three scalar subqueries; the ``(status, next_attempt_at)`` indexes cover the counts."""
    pending = deliveries.c.status == "pending"
    row = (
        await conn.execute(
            select(
                select(func.count()).select_from(deliveries).where(pending).scalar_subquery(),
                select(func.count()).select_from(emails).where(emails.c.status == "pending").scalar_subquery(),
                select(func.min(deliveries.c.created_at)).where(pending).scalar_subquery(),
                select(func.min(deliveries.c.next_attempt_at)).where(pending).scalar_subquery(),
            )
        )
    ).one()
    return OutboxRow(
        pending_deliveries=int(row[0]),
        pending_emails=int(row[1]),
        oldest_pending_created_at=_moment(row[2]),
        oldest_pending_due_at=_moment(row[3]),
    )


def _moment(value: datetime | str | None) -> datetime | None:
    # A scalar subquery loses the column's type on SQLite, which then hands back the stored text.
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


class MonitoringRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def database_revisions(self) -> frozenset[str]:
        return await database_revisions(self.conn)

    async def outbox_backlog(self) -> OutboxRow:
        return await outbox_backlog(self.conn)
