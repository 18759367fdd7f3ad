"""Health: whether this process can serve (database reachable, schema current), and the outbox's backlog."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from cauri.domain.clock import utcnow
from cauri.services.runtime import UnitOfWork
from cauri.store.monitoring import code_revisions, known_revisions

log = logging.getLogger("cauri.health")


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    #: Why not, in words an operator can act on; None when ready.
    reason: str | None
    database_revision: str | None
    code_revision: str


@dataclass(frozen=True, slots=True)
class Backlog:
    pending_deliveries: int
    pending_emails: int
    oldest_pending_age_seconds: float
    oldest_due_lag_seconds: float


def _names(revisions: frozenset[str]) -> str:
    return ",".join(sorted(revisions)) or "none"


async def check_readiness(uow: UnitOfWork, timeout_seconds: float) -> Readiness:
    """Ready when the database answers within ``timeout_seconds`` and is stamped with exactly the migration
    head(s) this code ships: an older schema lacks what the code writes, a newer one may have dropped it."""
    code = code_revisions()
    try:
        async with asyncio.timeout(timeout_seconds), uow.reading():
            found = await uow.monitoring.database_revisions()
    except TimeoutError:
        return Readiness(False, f"the database did not answer within {timeout_seconds:g} s", None, _names(code))
    except (SQLAlchemyError, OSError) as exc:
        log.warning("readiness: database unreachable", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
        return Readiness(False, f"the database is unreachable ({type(exc).__name__})", None, _names(code))
    if found == code:
        return Readiness(True, None, _names(found), _names(code))
    if not found:
        reason = "the database has no schema yet: run `cauri migrate`"
    elif found <= known_revisions():
        reason = f"migrations are pending (database at {_names(found)}, code at {_names(code)}): run `cauri migrate`"
    else:
        reason = f"the database (at {_names(found)}) is newer than this code (at {_names(code)})"
    return Readiness(False, reason, _names(found), _names(code))


async def outbox_backlog_now(uow: UnitOfWork, timeout_seconds: float) -> Backlog:
    """The outbox's backlog, read in one statement at scrape time (nothing to keep in step elsewhere)."""
    async with asyncio.timeout(timeout_seconds), uow.reading():
        row = await uow.monitoring.outbox_backlog()
    now = utcnow()
    age = (now - row.oldest_pending_created_at).total_seconds() if row.oldest_pending_created_at else 0.0
    lag = (now - row.oldest_pending_due_at).total_seconds() if row.oldest_pending_due_at else 0.0
    return Backlog(row.pending_deliveries, row.pending_emails, max(age, 0.0), max(lag, 0.0))
