"""The migrations and the table definitions agree, and migrations can be undone and redone."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from cauri.settings import Settings
from cauri.store.migrate import alembic_config
from tests.conftest import Database


def test_migrated_schema_matches_the_tables(migrated: Database, tmp_path: Path) -> None:
    # Raises if autogenerate would find anything to add, drop or alter.
    command.check(alembic_config(Settings(database_url=migrated.url, data_dir=tmp_path)))


def test_downgrade_and_upgrade_round_trip(tmp_path: Path) -> None:
    config = alembic_config(Settings(data_dir=tmp_path))
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    command.check(config)
