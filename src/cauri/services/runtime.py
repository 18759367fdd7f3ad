"""What every face starts from: settings, the database, the connectors, and a unit of work per operation.

Faces (API, checkout, CLI, workers) get their units of work here, so that none of them imports the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.migrate import upgrade
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

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine, public_url=self.public_url, reader=self.reader,
                             sandbox_credit=self.settings.sandbox_balance)  # fmt: skip

    async def close(self) -> None:
        await self.engine.dispose()


def create_runtime(settings: Settings, engine: AsyncEngine | None = None) -> Runtime:
    connectors = ConnectorRegistry(SandboxConnector(settings.secret, settings.sandbox_delay_seconds))
    return Runtime(settings, engine or create_engine(settings), connectors)


def migrate(settings: Settings) -> None:
    """Apply the database migrations (every command does it first)."""
    upgrade(settings)
