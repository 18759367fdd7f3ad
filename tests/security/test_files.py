"""The data directory is its owner's alone: the SQLite database (and its -wal and -shm files), the secret key and
the mail written as files to customers are 0600 in folders of 0700, from the moment they are made (under the
usual umask of 022, which would make them 0644), and an older install's are tightened when Cauri starts."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.attempts import AttemptStatus
from cauri.domain.payments import Environment
from cauri.private_files import write_private_once
from cauri.services.apps import create_app
from cauri.services.runtime import create_runtime
from cauri.settings import Settings
from cauri.store.migrate import upgrade
from cauri.workers.mail import Mailer
from tests.cli.test_cli import cauri
from tests.conftest import MerchantApp, runtime_of
from tests.outbox.test_emails import paid


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems start services with: what Cauri must not rely on."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def env(env_without_cauri: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env_without_cauri, "CAURI_DATA_DIR": str(tmp_path / "data"), "CAURI_LOG_LEVEL": "warning"}


def test_a_fresh_data_directory_is_private(env: dict[str, str], tmp_path: Path) -> None:
    created = cauri("apps", "create", "Shop", "--json", env=env)  # run as a merchant would, under umask 022
    assert created.returncode == 0, created.stderr
    data = tmp_path / "data"
    assert mode(data) == 0o700
    assert mode(data / "cauri.db") == 0o600
    assert mode(data / "secret_key") == 0o600


def test_an_older_install_is_tightened_when_cauri_starts(env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cauri("apps", "create", "Shop", env=env).returncode == 0
    (data / "mail").mkdir()
    files = [data / name for name in ("cauri.db", "cauri.db-wal", "cauri.db-shm", "secret_key")]
    for path in files:
        path.touch()
        path.chmod(0o644)
    data.chmod(0o755)
    listed = cauri("apps", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [app["name"] for app in json.loads(listed.stdout)] == ["Shop"]
    assert mode(data) == 0o700
    assert {path.name: mode(path) for path in files if path.exists()} == {
        path.name: 0o600 for path in files if path.exists()
    }
    assert mode(data / "cauri.db") == 0o600 and mode(data / "secret_key") == 0o600


def test_the_write_ahead_log_and_shared_memory_files_are_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    upgrade(settings)

    async def while_open() -> dict[str, int]:
        runtime = create_runtime(settings)
        try:
            await create_app(runtime.uow(), "Shop", Environment.SANDBOX, rate_limit=0, expiry_minutes=10)
            # While the engine is open, SQLite keeps its -wal and -shm files beside the database.
            return {p.name: mode(p) for p in settings.data_dir.iterdir()}
        finally:
            await runtime.close()

    assert asyncio.run(while_open()) == {
        "cauri.db": 0o600, "cauri.db-wal": 0o600, "cauri.db-shm": 0o600, "secret_key": 0o600,
    }  # fmt: skip
    assert mode(settings.data_dir) == 0o700


async def test_mail_written_as_files_is_private(
    client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, settings: Settings
) -> None:
    old_folder = Path(settings.data_dir) / "mail"
    old_folder.mkdir(mode=0o755)
    old_folder.chmod(0o755)
    await paid(client, engine, merchant, locale="fr", outcome=AttemptStatus.SUCCESS, email_address="f@client.example")
    await Mailer(runtime_of(settings, engine)).run_once()
    # Our receipt, and any mail other tests left pending on the run's shared database.
    written = list(old_folder.glob("*.eml"))
    assert any("To: f@client.example" in path.read_text() for path in written)
    assert {mode(path) for path in written} == {0o600}
    assert mode(old_folder) == 0o700


def test_a_private_file_written_once_keeps_the_first_writer(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    write_private_once(path, b"first")
    write_private_once(path, b"second")  # another process, starting at the same time
    assert path.read_bytes() == b"first"
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no draft left behind


def test_the_secret_key_file_is_made_private_from_the_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh" / "data")
    assert len(settings.secret) > 20
    assert mode(tmp_path / "fresh") == 0o700  # a parent Cauri made is private too
    assert mode(settings.data_dir) == 0o700
    assert mode(settings.data_dir / "secret_key") == 0o600
    assert Settings(data_dir=settings.data_dir).secret == settings.secret
