"""Dashboard users, the apps each belongs to, their sessions, and failed logins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.errors import Conflict
from cauri.domain.payments import new_id, new_sorted_id
from cauri.store.tables import apps, dashboard_sessions, login_failures, user_apps, users


class UserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(self, email: str, password_hash: str, role: str, app_ids: Sequence[str], now: datetime) -> str:
        user_id = new_id("usr_")
        await self.conn.execute(users.insert().values(id=user_id, email=email, password_hash=password_hash,
                                                      role=role, created_at=now, updated_at=now))  # fmt: skip
        if app_ids:
            await self.conn.execute(user_apps.insert(), [{"user_id": user_id, "app_id": a} for a in app_ids])
        return user_id

    async def by_email(self, email: str) -> Row[Any] | None:
        return (await self.conn.execute(select(users).where(users.c.email == email))).one_or_none()

    async def get(self, user_id: str) -> Row[Any] | None:
        return (await self.conn.execute(select(users).where(users.c.id == user_id))).one_or_none()

    async def app_ids(self, user_id: str) -> list[str]:
        query = select(user_apps.c.app_id).where(user_apps.c.user_id == user_id).order_by(user_apps.c.app_id)
        return list((await self.conn.execute(query)).scalars())

    async def grant(self, user_id: str, app_ids: Sequence[str]) -> list[str]:
        """Add the user to ``app_ids``; returns those they were not in already."""
        held = set(await self.app_ids(user_id))
        new = [a for a in dict.fromkeys(app_ids) if a not in held]
        if new:
            try:
                await self.conn.execute(user_apps.insert(), [{"user_id": user_id, "app_id": a} for a in new])
            except IntegrityError as exc:  # the same grant, made at the same moment by another command
                raise Conflict("The user's apps changed meanwhile; run the command again.") from exc
        return new

    async def revoke(self, user_id: str, app_ids: Sequence[str]) -> list[str]:
        """Take the user out of ``app_ids``; returns those they were in."""
        held = set(await self.app_ids(user_id))
        gone = [a for a in dict.fromkeys(app_ids) if a in held]
        if gone:
            await self.conn.execute(
                delete(user_apps).where(user_apps.c.user_id == user_id, user_apps.c.app_id.in_(gone))
            )
        return gone

    async def set_role(self, user_id: str, role: str, now: datetime) -> None:
        await self.conn.execute(update(users).where(users.c.id == user_id).values(role=role, updated_at=now))

    async def everyone(self) -> list[tuple[Row[Any], list[str]]]:
        """Every user, oldest first, with their app ids."""
        rows = (await self.conn.execute(select(users).order_by(users.c.created_at, users.c.id))).all()
        memberships = (await self.conn.execute(select(user_apps).order_by(user_apps.c.app_id))).all()
        by_user: dict[str, list[str]] = {}
        for membership in memberships:
            by_user.setdefault(membership.user_id, []).append(membership.app_id)
        return [(row, by_user.get(row.id, [])) for row in rows]

    async def all_app_ids(self) -> list[str]:
        return list((await self.conn.execute(select(apps.c.id).order_by(apps.c.created_at))).scalars())

    async def set_totp(self, user_id: str, sealed: bytes | None, now: datetime) -> None:
        await self.conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(totp_secret_encrypted=sealed, totp_last_step=None, updated_at=now)
        )

    async def use_totp_step(self, user_id: str, step: int) -> bool:
        """Record ``step`` as used, once: False when it (or a later one) already was, by a concurrent login too."""
        result = await self.conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .where((users.c.totp_last_step.is_(None)) | (users.c.totp_last_step < step))
            .values(totp_last_step=step)
        )
        return bool(result.rowcount)

    # Sessions: the token itself is never stored, only its SHA-256.

    async def add_session(self, token_hash: bytes, user_id: str, now: datetime, expires_at: datetime) -> None:
        await self.conn.execute(dashboard_sessions.insert().values(token_hash=token_hash, user_id=user_id,
                                                                   created_at=now, last_seen_at=now,
                                                                   expires_at=expires_at))  # fmt: skip

    async def session(self, token_hash: bytes) -> tuple[Row[Any], list[str]] | None:
        """The session, its user's email and role, and the user's apps, in one round trip (every page asks)."""
        query = (
            select(dashboard_sessions, users.c.email, users.c.role, user_apps.c.app_id)
            .join(users, users.c.id == dashboard_sessions.c.user_id)
            .outerjoin(user_apps, user_apps.c.user_id == users.c.id)
            .where(dashboard_sessions.c.token_hash == token_hash)
            .order_by(user_apps.c.app_id)
        )
        rows = (await self.conn.execute(query)).all()
        if not rows:
            return None
        return rows[0], [r.app_id for r in rows if r.app_id is not None]

    async def touch_session(self, token_hash: bytes, now: datetime) -> None:
        await self.conn.execute(
            update(dashboard_sessions).where(dashboard_sessions.c.token_hash == token_hash).values(last_seen_at=now)
        )

    async def end_session(self, token_hash: bytes) -> None:
        await self.conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.token_hash == token_hash))

    async def purge_sessions(self, user_id: str, idle_before: datetime, now: datetime) -> None:
        """A user's ended sessions go when they log in again (nothing else reads them)."""
        await self.conn.execute(
            delete(dashboard_sessions).where(
                dashboard_sessions.c.user_id == user_id,
                (dashboard_sessions.c.last_seen_at < idle_before) | (dashboard_sessions.c.expires_at < now),
            )
        )

    # Failed logins, counted per subject over a window.

    async def failures_since(self, subjects: Sequence[str], since: datetime) -> dict[str, int]:
        query = (
            select(login_failures.c.subject, func.count())
            .where(login_failures.c.subject.in_(subjects), login_failures.c.failed_at >= since)
            .group_by(login_failures.c.subject)
        )
        return {row[0]: int(row[1]) for row in (await self.conn.execute(query)).all()}

    async def add_failures(self, subjects: Sequence[str], now: datetime, forget_before: datetime) -> None:
        await self.conn.execute(
            delete(login_failures).where(
                login_failures.c.subject.in_(subjects), login_failures.c.failed_at < forget_before
            )
        )
        await self.conn.execute(
            login_failures.insert(), [{"id": new_sorted_id("lf_"), "subject": s, "failed_at": now} for s in subjects]
        )

    async def clear_failures(self, subject: str) -> None:
        await self.conn.execute(delete(login_failures).where(login_failures.c.subject == subject))

    async def purge_ended(self, idle_before: datetime, now: datetime, failures_before: datetime) -> int:
        """Every session that has ended, and failed logins older than the throttle's window; how many rows."""
        ended = await self.conn.execute(
            delete(dashboard_sessions).where(
                (dashboard_sessions.c.last_seen_at < idle_before) | (dashboard_sessions.c.expires_at < now)
            )
        )
        old = await self.conn.execute(delete(login_failures).where(login_failures.c.failed_at < failures_before))
        return int(ended.rowcount) + int(old.rowcount)
