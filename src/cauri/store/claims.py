"""Claiming due rows of an outbox table (deliveries, emails) for one worker, with a lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.clock import utcnow


async def claim_due_rows(conn: AsyncConnection, table: Table, lease_until: datetime, limit: int) -> dict[str, int]:
    """Take up to ``limit`` pending, due, unleased rows until ``lease_until``; returns id -> tries so far (this
    one included). On PostgreSQL rows another worker is claiming are skipped (FOR UPDATE SKIP LOCKED);
    SQLite has one writer, so the update itself is the lock. A worker that dies loses its claims when the
    lease ends."""
    now = utcnow()
    c = table.c
    is_due = (c.status == "pending", c.next_attempt_at <= now, or_(c.locked_until.is_(None), c.locked_until < now))
    # Most polls find nothing: a plain read says so without the UPDATE's write lock, which on SQLite would
    # queue behind (and hold up) the requests' own writes ten times a second per dispatcher.
    if (await conn.execute(select(c.id).where(*is_due).limit(1))).first() is None:
        return {}
    due = select(c.id).where(*is_due).order_by(c.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
    claimed = await conn.execute(
        update(table)
        .where(c.id.in_(due.scalar_subquery()))
        .values(locked_until=lease_until, attempts=c.attempts + 1)
        .returning(c.id, c.attempts)
    )
    return {row.id: row.attempts for row in claimed}
