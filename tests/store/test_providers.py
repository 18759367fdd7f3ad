"""Provider accounts in the database, on both databases: credentials sealed and bound to their row, removal that
keeps what already names the account, and connectors resolved by account id, rebuilt when the account changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.providers import PROVIDERS
from cauri.domain.errors import NotFound
from cauri.domain.providers import NewAccount
from cauri.settings import Settings
from cauri.store.providers import open_account
from cauri.store.tables import provider_accounts
from tests.conftest import MerchantApp, runtime_of, uow
from tests.providers_stub import StubConnector

MASTER = b"m" * 32


def account(label: str, priority: int = 100, key: str = "sk_1") -> NewAccount:
    return NewAccount("stub", label, {"api_key": key}, True, ("mtn_bj",), priority, "http://127.0.0.1:9")


@pytest.fixture
def stub_installed() -> Iterator[None]:
    PROVIDERS["stub"] = StubConnector
    yield
    PROVIDERS.pop("stub", None)


async def test_credentials_round_trip_sealed_and_bound_to_their_account(
    engine: AsyncEngine, merchant: MerchantApp
) -> None:
    async with uow(engine) as tx:
        first = await tx.providers.add(MASTER, merchant.id, "sandbox", account("One", key="sk_first"))
        second = await tx.providers.add(MASTER, merchant.id, "sandbox", account("Two", key="sk_second"))
        await tx.commit()
    async with uow(engine).reading() as tx:
        found = await tx.providers.find(first.id)
    assert found is not None
    opened = open_account(found, MASTER)
    assert (opened.id, opened.provider, dict(opened.credentials), opened.sandbox, opened.base_url) == (
        first.id, "stub", {"api_key": "sk_first"}, True, "http://127.0.0.1:9",
    )  # fmt: skip
    assert b"sk_first" not in found.credentials_encrypted
    with pytest.raises(InvalidTag):
        open_account(found, b"another master key, another install")

    # One account's sealed credentials copied onto another's row do not open there.
    async with engine.begin() as conn:
        await conn.execute(update(provider_accounts).where(provider_accounts.c.id == second.id)
                           .values(credentials_encrypted=found.credentials_encrypted))  # fmt: skip
    async with uow(engine).reading() as tx:
        swapped = await tx.providers.find(second.id)
    assert swapped is not None
    with pytest.raises(InvalidTag):
        open_account(swapped, MASTER)


async def test_removal_stops_routing_but_keeps_the_account_for_what_names_it(
    engine: AsyncEngine, merchant: MerchantApp
) -> None:
    async with uow(engine) as tx:
        late = await tx.providers.add(MASTER, merchant.id, "live", account("Late", priority=9))
        early = await tx.providers.add(MASTER, merchant.id, "live", account("Early", priority=1))
        await tx.providers.add(MASTER, merchant.id, "sandbox", account("Sandbox"))
        await tx.commit()
    async with uow(engine).reading() as tx:
        assert [r.label for r in await tx.providers.enabled(merchant.id, "live")] == ["Early", "Late"]
        assert await tx.providers.count_enabled(merchant.id, "live") == 2
    async with uow(engine) as tx:
        with pytest.raises(NotFound):
            await tx.providers.disable(merchant.id, "sandbox", early.id)  # not of that environment
        await tx.providers.disable(merchant.id, "live", early.id)
        await tx.commit()
    async with uow(engine).reading() as tx:
        assert [r.id for r in await tx.providers.enabled(merchant.id, "live")] == [late.id]
        kept = await tx.providers.find(early.id)
    assert kept is not None and kept.is_enabled is False
    async with uow(engine) as tx:
        with pytest.raises(NotFound):
            await tx.providers.disable(merchant.id, "live", early.id)  # already removed


async def test_connectors_are_found_by_account_id_and_rebuilt_when_the_account_changes(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp, stub_installed: None
) -> None:
    runtime = runtime_of(settings, engine)
    async with uow(engine) as tx:
        row = await tx.providers.add(settings.secret, merchant.id, "live", account("Main", key="sk_old"))
        await tx.commit()
    connector = await runtime.connectors.by_name(row.id)
    assert isinstance(connector, StubConnector) and connector.name == row.id
    assert connector.account.credentials["api_key"] == "sk_old"
    assert await runtime.connectors.by_name(row.id) is connector, "built once"

    async with uow(engine) as tx:
        await tx.providers.disable(merchant.id, "live", row.id)  # the account changed (its updated_at)
        await tx.commit()
    rebuilt = await runtime.connectors.by_name(row.id)
    assert rebuilt is not None and rebuilt is not connector
    assert await runtime.connectors.by_name("pa_0000000000000000") is None
    assert await runtime.connectors.by_name("pa_\x00") is None  # never looked up
    await runtime.connectors.close()


async def test_an_account_whose_connector_is_not_installed_has_none(
    settings: Settings, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    runtime = runtime_of(settings, engine)
    async with uow(engine) as tx:
        row = await tx.providers.add(settings.secret, merchant.id, "live", account("Main"))
        await tx.commit()
    assert await runtime.connectors.by_name(row.id) is None
