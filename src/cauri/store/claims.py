"""Claiming due rows of an outbox table (deliveries, emails) for one worker, with a lease."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.clock import utcnow


@dataclass(frozen=True, slots=True)
class GroupCap:
    """At most ``cap`` rows per value of ``column`` in a worker's hands: ``busy`` counts those it holds."""

    column: str
    cap: int
    busy: Mapping[str, int] = field(default_factory=dict)


async def claim_due_rows(
    conn: AsyncConnection, table: Table, lease_until: datetime, limit: int, per_group: GroupCap | None = None
) -> dict[str, int]:
    """Take up to ``limit`` pending, due, unleased rows until ``lease_until``; returns id -> tries so far (this
    one included). On PostgreSQL rows another worker is claiming are skipped (FOR UPDATE SKIP LOCKED);
    SQLite has one writer, so the update itself is the lock. A worker that dies loses its claims when the
    lease ends. With ``per_group``, groups at their cap are passed over, so one group's backlog cannot fill
    the worker."""
    now = utcnow()
    c = table.c
    is_due = [c.status == "pending", c.next_attempt_at <= now, or_(c.locked_until.is_(None), c.locked_until < now)]
    if per_group is not None:
        return await _claim_capped(conn, table, lease_until, limit, per_group, is_due)
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


async def _claim_capped(
    conn: AsyncConnection,
    table: Table,
    lease_until: datetime,
    limit: int,
    per_group: GroupCap,
    is_due: list[ColumnElement[bool]],
) -> dict[str, int]:
    c = table.c
    group = c[per_group.column]
    full = [key for key, held in per_group.busy.items() if held >= per_group.cap]
    if full:
        is_due.append(group.not_in(full))
    candidates = (
        await conn.execute(
            select(c.id, group)
            .where(*is_due)
            .order_by(c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    held: Counter[str] = Counter(per_group.busy)
    chosen = []
    for row_id, key in candidates:
        if held[key] < per_group.cap:
            held[key] += 1
            chosen.append(row_id)
    if not chosen:
        return {}
    # The due conditions again: on SQLite nothing locked the rows between the read and this write.
    claimed = await conn.execute(
        update(table)
        .where(c.id.in_(chosen), *is_due)
        .values(locked_until=lease_until, attempts=c.attempts + 1)
        .returning(c.id, c.attempts)
    )
    return {row.id: row.attempts for row in claimed}
