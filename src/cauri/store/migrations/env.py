"""Alembic environment: runs migrations over the same async engine the gateway uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from cauri.settings import Settings
from cauri.store.engine import create_engine
from cauri.store.tables import DIALECT_INDEXES, metadata

target_metadata = metadata


def _compared(_object: object, name: str | None, kind: str, _reflected: bool, _compare_to: object) -> bool:
    """Indexes one dialect alone has (written in their migration, not in the tables) are left out of
    autogenerate's comparison."""
    return not (kind == "index" and name in DIALECT_INDEXES)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=_compared,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    settings = context.config.attributes.get("settings") or Settings()
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported")
asyncio.run(_main())
