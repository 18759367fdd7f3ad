"""The audit log as the dashboard shows it (entries are written by the services that make each change)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cauri.domain.clock import as_utc
from cauri.services.runtime import UnitOfWork
from cauri.services.users import Session


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    app_id: str | None
    target: str | None
    details: dict[str, Any]


async def recent_entries(uow: UnitOfWork, session: Session, *, limit: int = 100) -> list[AuditEntry]:
    """The newest entries of the user's apps, and their own logins."""
    async with uow.reading():
        rows = await uow.audit.recent(session.app_ids, session.user_id, limit=limit, before=None)
    return [AuditEntry(as_utc(r.created_at), r.actor, r.action, r.app_id, r.target, dict(r.details or {}))
            for r in rows]  # fmt: skip
