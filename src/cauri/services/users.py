"""Dashboard users: creation, their apps and role, and TOTP enrolment (the command line), logins with their
throttle and second factor, and the sessions a login opens.

Passwords are hashed with argon2id (in a thread: a hash takes tens of milliseconds of CPU that the event loop
must not wait on). A session is a random token in the browser's cookie and its SHA-256 in the database, so a
copy of the database opens no session.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cauri.domain import totp
from cauri.domain.clock import as_utc, iso, utcnow
from cauri.domain.errors import Conflict, NotFound
from cauri.domain.users import Role, check_new_user, check_role
from cauri.services.runtime import UnitOfWork
from cauri.settings import Settings
from cauri.store.sealing import seal, unseal

_hasher = PasswordHasher()  # argon2id, RFC 9106's second recommended parameters (t=3, 64 MiB)


@functools.cache
def _decoy() -> str:
    """Verified against when the email is unknown, so that an unknown account answers as slowly as a known one.
    Made at the first login rather than at import: a hash is ~0.1 s that every command of the CLI paid."""
    return _hasher.hash(secrets.token_urlsafe(16))


CLI_ACTOR = "cli"


@dataclass(frozen=True, slots=True)
class Session:
    """Who a valid session cookie belongs to."""

    token_hash: bytes
    user_id: str
    email: str
    role: Role
    app_ids: tuple[str, ...]


class LoginRefused(Exception):
    """Wrong email, password or code: one answer for all, so none reveals which was wrong."""


class LoginThrottled(Exception):
    """Too many failures for this account or address: refused without looking at the password."""


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


async def create_user(
    uow: UnitOfWork, email: str, password: str, role: str, app_refs: Sequence[str]
) -> tuple[str, str, list[str]]:
    """A user in ``app_refs`` (ids or names; none: every app there is); returns their id, their email as
    stored and their app ids.
    ``ValidationFailed`` names the field; ``Conflict`` when the email is taken."""
    normalized, checked = check_new_user(email, password, role)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    async with uow:
        if await uow.users.by_email(normalized) is not None:
            raise Conflict("A user with this email exists already.")
        app_ids = [(await uow.apps.find(ref)).id for ref in app_refs] or await uow.users.all_app_ids()
        now = utcnow()
        user_id = await uow.users.create(normalized, hashed, checked.value, app_ids, now)
        await uow.audit.record(user_id=None, actor=CLI_ACTOR, action="user.created", app_id=None, target=user_id,
                               details={"email": normalized, "role": checked.value, "apps": app_ids},
                               now=now)  # fmt: skip
        await uow.commit()
    return user_id, normalized, app_ids


@dataclass(frozen=True, slots=True)
class UserSummary:
    """A user as ``cauri users list`` shows them (never a hash or a secret)."""

    id: str
    email: str
    role: str
    app_ids: tuple[str, ...]
    totp: bool
    created_at: str


async def list_users(uow: UnitOfWork) -> list[UserSummary]:
    async with uow.reading():
        found = await uow.users.everyone()
    return [
        UserSummary(row.id, row.email, row.role, tuple(app_ids), row.totp_secret_encrypted is not None,
                    iso(row.created_at) or "")
        for row, app_ids in found
    ]  # fmt: skip


async def change_apps(uow: UnitOfWork, email: str, app_refs: Sequence[str], *, grant: bool) -> list[str]:
    """Give the user the apps ``app_refs`` (ids or names), or take them away (``grant`` False); their open
    sessions see it on their next page. Returns the apps that changed; audited."""
    async with uow:
        user = await _user(uow, email)
        app_ids = [(await uow.apps.find(ref)).id for ref in app_refs]
        changed = await (uow.users.grant if grant else uow.users.revoke)(user.id, app_ids)
        if changed:
            await uow.audit.record(user_id=user.id, actor=CLI_ACTOR, app_id=None, target=user.id,
                                   action="user.apps_granted" if grant else "user.apps_revoked",
                                   details={"email": user.email, "apps": changed}, now=utcnow())  # fmt: skip
        await uow.commit()
    return changed


async def change_role(uow: UnitOfWork, email: str, role: str) -> str:
    """Give the user another role (``ValidationFailed`` on ``role``); their open sessions act with it at once."""
    role = check_role(role).value
    async with uow:
        user = await _user(uow, email)
        if user.role != role:
            now = utcnow()
            await uow.users.set_role(user.id, role, now)
            await uow.audit.record(user_id=user.id, actor=CLI_ACTOR, action="user.role_changed", app_id=None,
                                   target=user.id, details={"email": user.email, "from": user.role, "to": role},
                                   now=now)  # fmt: skip
        await uow.commit()
    return role


async def _user(uow: UnitOfWork, email: str) -> Any:
    user = await uow.users.by_email(email.strip().lower())
    if user is None:
        raise NotFound("No user has this email.")
    return user


async def enrol_totp(uow: UnitOfWork, email: str, master: bytes) -> str:
    """Give the user a new TOTP secret (replacing any earlier one); returns the ``otpauth://`` URI to show once."""
    secret = totp.new_secret()
    async with uow:
        user = await _user(uow, email)
        now = utcnow()
        await uow.users.set_totp(user.id, seal(master, secret), now)
        await uow.audit.record(user_id=user.id, actor=CLI_ACTOR, action="user.totp_enrolled", app_id=None,
                               target=user.id, details={}, now=now)  # fmt: skip
        await uow.commit()
    return totp.otpauth_uri(secret, user.email)


async def log_in(
    uow: UnitOfWork, settings: Settings, email: str, password: str, code: str, address: str
) -> tuple[str, Session]:
    """Check a login; returns the new session's token (for the cookie alone) and the session.

    ``LoginThrottled`` once the account or the address has failed too often in the window; ``LoginRefused``
    for a wrong email, password or second-factor code (each counts as a failure for both)."""
    email = email.strip().lower()[:254]
    if not email or len(password) > 1024:
        raise LoginRefused
    now = utcnow()
    window = timedelta(minutes=settings.dashboard_login_window_minutes)
    account, place = f"account:{email}", f"address:{address}"[:300]
    async with uow.reading():
        failures = await uow.users.failures_since([account, place], now - window)
        user = await uow.users.by_email(email)
    if (
        failures.get(account, 0) >= settings.dashboard_failures_per_account
        or failures.get(place, 0) >= settings.dashboard_failures_per_address
    ):
        raise LoginThrottled
    good = await asyncio.to_thread(_verify, user.password_hash if user else None, password)
    step = None
    if good and user is not None and user.totp_secret_encrypted is not None:
        secret = unseal(settings.secret, user.totp_secret_encrypted)
        step = totp.matching_step(secret, code, time.time(), user.totp_last_step)
        good = step is not None
    async with uow:
        if not good or user is None or (step is not None and not await uow.users.use_totp_step(user.id, step)):
            await uow.users.add_failures([account, place], now, now - window)
            if user is not None:  # a guessed email that names nobody is counted, not kept in the log
                await uow.audit.record(user_id=user.id, actor=user.email, action="login.failed", app_id=None,
                                       target=user.id, details={"address": address}, now=now)  # fmt: skip
            await uow.commit()
            raise LoginRefused
        token = secrets.token_urlsafe(32)
        hashed = token_hash(token)
        idle = timedelta(minutes=settings.dashboard_idle_minutes)
        await uow.users.purge_sessions(user.id, now - idle, now)
        await uow.users.add_session(hashed, user.id, now, now + timedelta(hours=settings.dashboard_session_hours))
        await uow.users.clear_failures(account)
        await uow.audit.record(user_id=user.id, actor=user.email, action="login.succeeded", app_id=None,
                               target=user.id, details={"address": address}, now=now)  # fmt: skip
        app_ids = tuple(await uow.users.app_ids(user.id))
        await uow.commit()
    return token, Session(hashed, user.id, user.email, Role(user.role), app_ids)


def _verify(hashed: str | None, password: str) -> bool:
    decoy = _decoy()  # for every login, known email or not: making it once cannot tell the two apart
    try:
        return _hasher.verify(hashed or decoy, password)
    except (VerificationError, InvalidHashError):
        return False


async def current_session(uow: UnitOfWork, settings: Settings, token: str | None) -> Session | None:
    """The session a cookie's token opens, if it has neither been idle too long nor outlived its term; its
    last activity is written at most once a minute (a page view is not a write)."""
    if not token or len(token) > 128:
        return None
    hashed = token_hash(token)
    now = utcnow()
    async with uow.reading():
        found = await uow.users.session(hashed)
    if found is None:
        return None
    row, app_ids = found
    idle = timedelta(minutes=settings.dashboard_idle_minutes)
    if as_utc(row.expires_at) <= now or as_utc(row.last_seen_at) + idle <= now:
        return None
    if now - as_utc(row.last_seen_at) > min(timedelta(minutes=1), idle / 10):
        async with uow:
            await uow.users.touch_session(hashed, now)
            await uow.commit()
    return Session(hashed, row.user_id, row.email, Role(row.role), tuple(app_ids))


async def log_out(uow: UnitOfWork, session: Session) -> None:
    async with uow:
        await uow.users.end_session(session.token_hash)
        await uow.audit.record(user_id=session.user_id, actor=session.email, action="logout", app_id=None,
                               target=session.user_id, details={}, now=utcnow())  # fmt: skip
        await uow.commit()


async def purge_ended(uow: UnitOfWork, settings: Settings) -> int:
    """Delete the sessions that have ended and the failed logins the throttle no longer counts (the purge job)."""
    now = utcnow()
    async with uow:
        idle_before = now - timedelta(minutes=settings.dashboard_idle_minutes)
        failures_before = now - timedelta(minutes=settings.dashboard_login_window_minutes)
        removed = await uow.users.purge_ended(idle_before, now, failures_before)
        await uow.commit()
    return removed
