"""Alembic, driven from code: ``cauri migrate``, ``cauri serve`` and every database command call it."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config

from cauri.private_files import private_directory
from cauri.settings import Settings


def alembic_config(settings: Settings) -> Config:
    here = Path(str(files("cauri.store")))
    config = Config()
    config.set_main_option("script_location", str(here / "migrations"))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database to ``revision``; creates the SQLite data directory when needed."""
    if settings.is_sqlite:
        private_directory(settings.data_dir)
    command.upgrade(alembic_config(settings), revision)
