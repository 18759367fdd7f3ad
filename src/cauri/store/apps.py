"""Apps and their API keys, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.domain.apps import App, KeyOwner, KeySummary
from cauri.domain.clock import as_utc, utcnow
from cauri.domain.developers import ApiKey
from cauri.domain.errors import NotFound
from cauri.domain.keys import NewKey, generate_key, new_ulid
from cauri.domain.payments import Environment
from cauri.store.tables import api_keys, apps


def app_from_row(row: object) -> App:
    m = row._mapping  # type: ignore[attr-defined]
    return App(
        id=m["id"],
        name=m["name"],
        website_url=m["website_url"],
        icon_url=m["icon_url"],
        is_enabled=m["is_enabled"],
        rate_limit=m["rate_limit"],
        expiry_minutes=m["expiry_minutes"],
        enabled_methods=tuple(m["enabled_methods"]) if m["enabled_methods"] is not None else None,
        notify_email=m["notify_email"],
        send_receipts=m["send_receipts"],
        send_notices=m["send_notices"],
        notify_failures=m["notify_failures"],
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
        rate_margin=Decimal(m["rate_margin"]),
        notice_language=m.get("notice_language"),
    )


class AppRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(
        self,
        name: str,
        environment: Environment,
        *,
        rate_limit: int,
        expiry_minutes: int,
        website_url: str | None = None,
    ) -> tuple[App, NewKey]:
        """An app and its first key for ``environment``; the key's secret is returned once."""
        now = utcnow()
        app_id = new_ulid()
        await self.conn.execute(
            apps.insert().values(
                id=app_id,
                name=name,
                website_url=website_url,
                icon_url=None,
                is_enabled=True,
                rate_limit=rate_limit,
                expiry_minutes=expiry_minutes,
                created_at=now,
                updated_at=now,
            )
        )
        key = await self.add_key(app_id, environment, now)
        return await self.get(app_id), key

    async def add_key(self, app_id: str, environment: Environment, now: datetime) -> NewKey:
        key = generate_key(environment)
        await self.conn.execute(
            api_keys.insert().values(
                id=new_ulid(),
                app_id=app_id,
                environment=environment.value,
                secret_hash=key.secret_hash,
                display_prefix=key.display_prefix,
                created_at=now,
                expires_at=None,
            )
        )
        return key

    async def get(self, app_id: str) -> App:
        return app_from_row((await self.conn.execute(select(apps).where(apps.c.id == app_id))).one())

    async def list_with_keys(self) -> list[tuple[App, list[KeySummary]]]:
        """Every app with its keys, oldest first."""
        app_rows = (await self.conn.execute(select(apps).order_by(apps.c.created_at))).all()
        key_rows = (
            await self.conn.execute(
                select(
                    api_keys.c.app_id, api_keys.c.environment, api_keys.c.display_prefix, api_keys.c.expires_at
                ).order_by(api_keys.c.created_at)
            )
        ).all()
        keys: dict[str, list[KeySummary]] = {}
        for r in key_rows:
            expires = as_utc(r.expires_at) if r.expires_at else None
            keys.setdefault(r.app_id, []).append(KeySummary(r.environment, r.display_prefix, expires))
        return [(app_from_row(r), keys.get(r.id, [])) for r in app_rows]

    async def find(self, ref: str) -> App:
        """An app by id or by (unique) name."""
        rows = (await self.conn.execute(select(apps).where((apps.c.id == ref) | (apps.c.name == ref)))).all()
        if len(rows) != 1:
            raise NotFound(
                f"No app is named or identified by {ref!r}."
                if not rows
                else f"Several apps are named {ref!r}; use its id."
            )
        return app_from_row(rows[0])

    async def rotate_key(self, app_id: str, environment: Environment, grace: timedelta) -> NewKey:
        """Issue a new key; the app's current keys for that environment keep working for ``grace`` only."""
        now = utcnow()
        await self.conn.execute(
            update(api_keys)
            .where(
                api_keys.c.app_id == app_id,
                api_keys.c.environment == environment.value,
                (api_keys.c.expires_at.is_(None)) | (api_keys.c.expires_at > now + grace),
            )
            .values(expires_at=now + grace)
        )
        return await self.add_key(app_id, environment, now)

    async def revoke_key(self, display_prefix: str) -> int:
        """Revoke at once the key(s) shown as ``display_prefix``; returns how many were revoked."""
        now = utcnow()
        result = await self.conn.execute(
            update(api_keys)
            .where(api_keys.c.display_prefix == display_prefix)
            .where((api_keys.c.expires_at.is_(None)) | (api_keys.c.expires_at > now))
            .values(expires_at=now)
        )
        return int(result.rowcount)

    async def keys_of(self, app_id: str) -> list[ApiKey]:
        """The app's keys, newest first, revoked ones included (the page shows what happened)."""
        k = api_keys.c
        rows = (
            await self.conn.execute(
                select(k.id, k.environment, k.display_prefix, k.created_at, k.expires_at, k.last_used_at)
                .where(k.app_id == app_id)
                .order_by(k.created_at.desc(), k.id.desc())
            )
        ).all()
        return [
            ApiKey(r.id, r.environment, r.display_prefix, as_utc(r.created_at),
                   as_utc(r.expires_at) if r.expires_at else None, as_utc(r.last_used_at) if r.last_used_at else None)
            for r in rows
        ]  # fmt: skip

    async def expire_key(self, app_id: str, key_id: str, at: datetime, *, active_only: bool = False) -> str | None:
        """Make one of the app's keys stop working at ``at`` (sooner only: a revoked key is never revived, a
        grace never lengthened; ``active_only``: only a key with no expiry yet, so that of two rotations of one
        key at once, one wins). Returns its environment, None when the app has no such key."""
        k = api_keys.c
        still = k.expires_at.is_(None) if active_only else (k.expires_at.is_(None)) | (k.expires_at > at)
        changed = await self.conn.execute(
            update(api_keys)
            .where(k.id == key_id, k.app_id == app_id, still)
            .values(expires_at=at)
            .returning(k.environment)
        )
        environment: str | None = changed.scalar_one_or_none()
        return environment

    async def touch_key(self, key_id: str, now: datetime) -> None:
        """Record a use of the key (never moving its time back: several processes write it)."""
        k = api_keys.c
        await self.conn.execute(
            update(api_keys)
            .where(k.id == key_id, (k.last_used_at.is_(None)) | (k.last_used_at < now))
            .values(last_used_at=now)
        )

    async def key_owner(self, secret_hash: bytes) -> KeyOwner | None:
        """The app and environment a key hash belongs to, whether or not it has expired (the caller decides)."""
        row = (
            await self.conn.execute(
                select(api_keys.c.id.label("key_id"), api_keys.c.environment, api_keys.c.expires_at, apps)
                .join(apps, apps.c.id == api_keys.c.app_id)
                .where(api_keys.c.secret_hash == secret_hash)
            )
        ).one_or_none()
        if row is None:
            return None
        m = row._mapping
        return KeyOwner(
            key_id=m["key_id"],
            app=app_from_row(row),
            environment=Environment(m["environment"]),
            expires_at=as_utc(m["expires_at"]) if m["expires_at"] else None,
        )

    async def update(self, app_id: str, changes: dict[str, object]) -> App:
        if changes:
            await self.conn.execute(update(apps).where(apps.c.id == app_id).values(updated_at=utcnow(), **changes))
        return await self.get(app_id)
