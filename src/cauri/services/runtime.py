"""What every face starts from: settings, the database, the connectors, and a unit of work per operation.

Faces (API, checkout, CLI, workers) get their units of work here, so that none of them imports the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.registry import ConnectorRegistry, StoredAccount
from cauri.connectors.router import Breakers
from cauri.connectors.sandbox import SandboxConnector
from cauri.services.callbacks import CallbackBase
from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.migrate import upgrade
from cauri.store.providers import open_account
from cauri.store.uow import SqlUnitOfWork

#: The unit of work services take (the SQL one in the gateway, a fake in service tests).
UnitOfWork = SqlUnitOfWork


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    connectors: ConnectorRegistry
    #: For single-statement reads: autocommit spares PostgreSQL a BEGIN and a ROLLBACK round trip each.
    reader: AsyncEngine = field(init=False)

    def __post_init__(self) -> None:
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def public_url(self) -> str:
        return self.settings.resolved_public_url

    @property
    def callbacks(self) -> CallbackBase:
        """Where connectors send their notifications: providers the public url, the sandbox the internal one."""
        return CallbackBase.of(self.settings)

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine, public_url=self.public_url, reader=self.reader,
                             sandbox_credit=self.settings.sandbox_balance)  # fmt: skip

    async def load_account(self, account_id: str) -> StoredAccount | None:
        """A provider account by id, for the connectors (its credentials opened only if its connector is built)."""
        async with self.uow().reading() as uow:
            row = await uow.providers.find(account_id)
        return None if row is None else self.stored_account(row)

    def stored_account(self, row: Any) -> StoredAccount:
        master = self.settings.secret
        return StoredAccount(row.id, row.updated_at, lambda: open_account(row, master), row.provider)

    async def close(self) -> None:
        await self.connectors.close()
        await self.engine.dispose()


def create_runtime(settings: Settings, engine: AsyncEngine | None = None) -> Runtime:
    breakers = Breakers(settings.breaker_failures, settings.breaker_cooldown_seconds)
    connectors = ConnectorRegistry(SandboxConnector(settings.secret, settings.sandbox_delay_seconds), breakers=breakers)
    runtime = Runtime(settings, engine or create_engine(settings), connectors)
    connectors.accounts = runtime.load_account
    connectors.stored_account = runtime.stored_account
    return runtime


def migrate(settings: Settings) -> None:
    """Apply the database migrations (every command does it first)."""
    upgrade(settings)
