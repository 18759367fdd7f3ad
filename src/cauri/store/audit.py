"""The audit log: who did what, when, written in the transaction of the change it records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.payments import new_sorted_id
from cauri.store.tables import audit_log


class AuditRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def record(
        self,
        *,
        user_id: str | None,
        actor: str,
        action: str,
        app_id: str | None,
        target: str | None,
        details: Mapping[str, Any],
        now: datetime,
    ) -> None:
        await self.conn.execute(audit_log.insert().values(id=new_sorted_id("aud_"), user_id=user_id, actor=actor,
                                                          action=action, app_id=app_id, target=target,
                                                          details=dict(details), created_at=now))  # fmt: skip

    async def recent(
        self, app_ids: Sequence[str], user_id: str, *, limit: int, before: tuple[datetime, str] | None
    ) -> list[Row[Any]]:
        """Newest first: what happened in ``app_ids``, and what concerns the user themself (logins)."""
        query = select(audit_log).where(or_(audit_log.c.app_id.in_(app_ids), audit_log.c.user_id == user_id))
        if before is not None:
            at, last = before
            query = query.where(
                or_(audit_log.c.created_at < at, and_(audit_log.c.created_at == at, audit_log.c.id < last))
            )
        query = query.order_by(audit_log.c.created_at.desc(), audit_log.c.id.desc()).limit(limit)
        return list((await self.conn.execute(query)).all())
