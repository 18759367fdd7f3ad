"""Merchants' provider accounts in the database: credentials sealed at rest, opened only for a connector."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cauri.connectors.base import ProviderAccount
from cauri.domain.clock import utcnow
from cauri.domain.errors import NotFound
from cauri.domain.payments import new_id
from cauri.domain.providers import ACCOUNT_NOT_FOUND, NewAccount
from cauri.store.sealing import PROVIDER_CREDENTIALS, seal, unseal
from cauri.store.tables import provider_accounts


def open_account(row: Row[Any], master: bytes) -> ProviderAccount:
    """The account as its connector needs it, credentials opened (in memory only)."""
    plain = unseal(master, row.credentials_encrypted, purpose=PROVIDER_CREDENTIALS, bound_to=row.id)
    return ProviderAccount(row.id, row.provider, orjson.loads(plain), row.sandbox, row.base_url)


class ProviderRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, master: bytes, app_id: str, environment: str, account: NewAccount) -> Row[Any]:
        now = utcnow()
        account_id = new_id("pa_")
        sealed = seal(master, orjson.dumps(account.credentials).decode(), purpose=PROVIDER_CREDENTIALS,
                      bound_to=account_id)  # fmt: skip
        row = (
            await self.conn.execute(
                provider_accounts.insert()
                .values(
                    id=account_id,
                    app_id=app_id,
                    environment=environment,
                    provider=account.provider,
                    label=account.label,
                    credentials_encrypted=sealed,
                    sandbox=account.sandbox,
                    base_url=account.base_url,
                    methods=list(account.methods),
                    priority=account.priority,
                    is_enabled=True,
                    created_at=now,
                    updated_at=now,
                )
                .returning(*provider_accounts.c)
            )
        ).one()
        return row

    async def find(self, account_id: str) -> Row[Any] | None:
        query = select(provider_accounts).where(provider_accounts.c.id == account_id)
        return (await self.conn.execute(query)).one_or_none()

    async def enabled(self, app_id: str, environment: str | None = None) -> list[Row[Any]]:
        """The app's enabled accounts (of ``environment``, or of both), in routing order."""
        c = provider_accounts.c
        query = select(provider_accounts).where(c.app_id == app_id, c.is_enabled.is_(True))
        if environment is not None:
            query = query.where(c.environment == environment)
        query = query.order_by(c.environment, c.priority, c.created_at, c.id)
        return list((await self.conn.execute(query)).all())

    async def count_enabled(self, app_id: str, environment: str) -> int:
        c = provider_accounts.c
        query = select(func.count()).where(c.app_id == app_id, c.environment == environment, c.is_enabled.is_(True))
        return int((await self.conn.execute(query)).scalar_one())

    async def disable(self, app_id: str, environment: str, account_id: str) -> None:
        """Routing stops using the account; its row stays, for what already names it (attempts, refunds)."""
        c = provider_accounts.c
        done = await self.conn.execute(
            update(provider_accounts)
            .where(c.id == account_id, c.app_id == app_id, c.environment == environment, c.is_enabled.is_(True))
            .values(is_enabled=False, updated_at=utcnow())
        )
        if done.rowcount != 1:
            raise NotFound(ACCOUNT_NOT_FOUND)
