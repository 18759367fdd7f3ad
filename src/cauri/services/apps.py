"""Apps and their secret keys: create, list, find, configure, rotate, revoke, and who a key belongs to."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from cauri.domain import apps as rules
from cauri.domain.apps import App, KeyOwner, KeySummary
from cauri.domain.clock import utcnow
from cauri.domain.errors import FieldErrors, NotFound, ValidationFailed
from cauri.domain.keys import NewKey
from cauri.domain.payments import Environment
from cauri.domain.rates import RateError, decimal_text, parse_margin_percent
from cauri.domain.text import has_control_characters
from cauri.services.runtime import UnitOfWork

log = logging.getLogger("cauri.keys")


async def create_app(
    uow: UnitOfWork,
    name: str,
    environment: Environment,
    *,
    rate_limit: int,
    expiry_minutes: int,
    website_url: str | None = None,
) -> tuple[App, NewKey]:
    """An app and its first key for ``environment``; the key's secret is returned once (only its hash is
    kept). The name and URL are checked before anything is written."""
    name = rules.app_name(name)
    website_url = rules.website_url(website_url)
    async with uow:
        created = await uow.apps.create(
            name, environment, rate_limit=rate_limit, expiry_minutes=expiry_minutes, website_url=website_url
        )
        await uow.commit()
    return created


async def create_first_app(uow: UnitOfWork, *, rate_limit: int, expiry_minutes: int) -> tuple[App, NewKey] | None:
    """A sandbox app for a newcomer's first start; None when any app exists already."""
    async with uow:
        if await uow.apps.list_with_keys():
            return None
        created = await uow.apps.create(
            "Default app", Environment.SANDBOX, rate_limit=rate_limit, expiry_minutes=expiry_minutes
        )
        await uow.commit()
    return created


async def list_apps(uow: UnitOfWork) -> list[tuple[App, list[KeySummary]]]:
    async with uow.reading():
        return await uow.apps.list_with_keys()


async def find_app(uow: UnitOfWork, ref: str) -> App:
    """An app by id or by (unique) name; ``NotFound`` otherwise."""
    _check_reference(ref)
    async with uow.reading():
        return await uow.apps.find(ref)


async def key_owner(uow: UnitOfWork, secret_hash: bytes) -> KeyOwner | None:
    """The app and environment a key's hash belongs to, expired or not (the caller decides)."""
    async with uow.reading():
        return await uow.apps.key_owner(secret_hash)


async def rotate_key(uow: UnitOfWork, ref: str, environment: Environment, grace: timedelta) -> tuple[App, NewKey]:
    """A new key for the app; its current keys for that environment keep working for ``grace`` only."""
    _check_reference(ref)
    async with uow:
        app = await uow.apps.find(ref)
        key = await uow.apps.rotate_key(app.id, environment, grace)
        await uow.commit()
    return app, key


async def revoke_key(uow: UnitOfWork, display_prefix: str) -> int:
    """Revoke at once the key(s) shown as ``display_prefix``; returns how many were revoked."""
    if has_control_characters(display_prefix):
        return 0
    async with uow:
        count = await uow.apps.revoke_key(display_prefix)
        await uow.commit()
    return count


async def configure_emails(
    uow: UnitOfWork,
    ref: str,
    *,
    notify_email: str | None = None,
    send_receipts: bool | None = None,
    send_notices: bool | None = None,
    notify_failures: bool | None = None,
) -> App:
    """Change an app's email switches; ``None`` leaves a setting as it is ("" clears notify_email)."""
    changes: dict[str, object] = {
        k: v
        for k, v in {
            "send_receipts": send_receipts,
            "send_notices": send_notices,
            "notify_failures": notify_failures,
        }.items()
        if v is not None
    }
    if notify_email is not None:
        changes["notify_email"] = rules.notify_email(notify_email)
    _check_reference(ref)
    async with uow:
        app = await uow.apps.update((await uow.apps.find(ref)).id, changes)
        await uow.commit()
    return app


async def set_rate_margin(uow: UnitOfWork, ref: str, percent: str) -> App:
    """Set the app's correction margin on converted payments, in percent (``2.5``): the customer then pays the
    rate raised by that much, and the capture records it as ``correction_rate``."""
    try:
        margin = parse_margin_percent(percent)
    except RateError as exc:
        raise ValidationFailed(FieldErrors({"margin": [f"The margin {exc}."]})) from None
    _check_reference(ref)
    async with uow:
        app = await uow.apps.update((await uow.apps.find(ref)).id, {"rate_margin": decimal_text(margin)})
        await uow.commit()
    return app


def _check_reference(ref: str) -> None:
    """No app is named with a control character (nor could a database look one up: PostgreSQL refuses NUL, and
    a command line's undecodable bytes arrive as lone surrogates)."""
    if has_control_characters(ref):
        raise NotFound("No app is named or identified by that reference.")


async def record_key_use(uow: UnitOfWork, key_id: str) -> None:
    async with uow:
        await uow.apps.touch_key(key_id, utcnow())
        await uow.commit()


@dataclass
class KeyUsage:
    """When each key was last used, written at most once per ``interval`` seconds per key in this process, in
    the background: the request that uses a key never waits on the write, and a busy key costs one write a
    minute, not one per request."""

    interval: float = 60.0
    _written: dict[str, float] = field(default_factory=dict)
    _writing: set[asyncio.Task[None]] = field(default_factory=set)

    def seen(self, key_id: str, uow: Callable[[], UnitOfWork]) -> None:
        now = time.monotonic()
        last = self._written.get(key_id)
        if last is not None and now - last < self.interval:
            return
        if len(self._written) > 10_000:  # many keys over a long uptime: forget the quiet ones
            self._written = {k: t for k, t in self._written.items() if now - t < self.interval}
        self._written[key_id] = now
        task = asyncio.get_running_loop().create_task(self._write(uow, key_id))
        self._writing.add(task)  # a reference, or the loop may collect the task before it runs
        task.add_done_callback(self._writing.discard)

    async def _write(self, uow: Callable[[], UnitOfWork], key_id: str) -> None:
        try:
            await record_key_use(uow(), key_id)
        except Exception:  # a lost "last used" must never fail anything; the next minute writes it again
            self._written.pop(key_id, None)
            log.warning("could not record a key's use", exc_info=True)

    async def settle(self) -> None:
        """Wait for the writes under way (tests; shutdown)."""
        if self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)
