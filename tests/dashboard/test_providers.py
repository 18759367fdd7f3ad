"""``/dashboard/providers``: an app's provider accounts per environment with the order routing tries them in,
added and removed by owners (CSRF, audited), their credentials never shown; on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.connectors.providers import PROVIDERS
from cauri.store.tables import audit_log, provider_accounts
from tests.conftest import MerchantApp
from tests.dashboard.conftest import User, log_in, new_user, token_in
from tests.providers_stub import StubConnector

SECRET = "sk_test_9fQ2mZx7Lp4"


@pytest.fixture(autouse=True)
def stub_installed() -> Iterator[None]:
    PROVIDERS["stub"] = StubConnector
    yield
    PROVIDERS.pop("stub", None)


async def api_account(client: httpx.AsyncClient, merchant: MerchantApp, **body: Any) -> str:
    body = {"provider": "stub", "label": "Main", "credentials": {"api_key": SECRET}, **body}
    created = await client.post("/v1/providers", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    account_id: str = created.json()["data"]["id"]
    return account_id


async def listed(client: httpx.AsyncClient, merchant: MerchantApp) -> list[dict[str, Any]]:
    answer = await client.get("/v1/providers", headers=merchant.headers)
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


async def audited(engine: AsyncEngine, action: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(audit_log).where(audit_log.c.action == action))).all())


async def test_the_page_lists_accounts_and_routing_order_never_credentials(
    browser_client: httpx.AsyncClient, merchant: MerchantApp, owner: User
) -> None:
    backup = await api_account(browser_client, merchant, label="Backup", methods=["mtn_bj"], priority=50)
    main = await api_account(browser_client, merchant, label="Main", methods=["mtn_bj", "card_xof"], priority=10)
    await log_in(browser_client, owner)
    page = await browser_client.get(f"/dashboard/providers?app={merchant.id}&lang=en")
    assert page.status_code == 200
    assert f'href="/dashboard/providers?app={merchant.id}"' in page.text  # in the navigation
    rows = page.text.split('class="account"')[1:]
    assert [main in rows[0], backup in rows[1]] == [True, True]  # routing order: priority first
    for text in ("stub", "Main", "Backup", "provider&#39;s sandbox", "mtn_bj", "card_xof", "Routing order"):
        assert text in page.text, text
    routes = [r.split("</tr>")[0] for r in page.text.split('class="route"')[1:]]
    assert len(routes) == 2  # mtn_bj: Main then Backup; card_xof: Main alone
    both = next(r for r in routes if "<code>mtn_bj</code>" in r)
    assert both.index("Main") < both.index("Backup") and "card_xof" not in both
    alone = next(r for r in routes if "<code>card_xof</code>" in r)
    assert "Main" in alone and "Backup" not in alone
    assert SECRET not in page.text and "api_key</code><input" in page.text  # the add form's field, empty
    assert f"/dashboard/providers/{main}/remove" in page.text
    live = await browser_client.get(f"/dashboard/providers?app={merchant.id}&env=live&lang=en")
    assert live.status_code == 200 and main not in live.text and "No provider account" in live.text
    french = await browser_client.get(f"/dashboard/providers?app={merchant.id}&lang=fr")
    assert "Comptes de fournisseurs" in french.text and "Ordre de routage" in french.text


async def test_an_owner_adds_an_account_whose_credentials_never_come_back(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    await log_in(browser_client, owner)
    page = await browser_client.get(f"/dashboard/providers?app={merchant.id}")
    form = {"csrf": token_in(page.text), "app": merchant.id, "env": "sandbox", "provider": "stub",
            "label": "From the dashboard", "credential:api_key": SECRET, "method:mtn_bj": "1",
            "priority": "7"}  # fmt: skip
    refused = await browser_client.post("/dashboard/providers/add", data={**form, "label": ""})
    assert refused.status_code == 422 and "label" in refused.text and SECRET not in refused.text
    wrong = await browser_client.post("/dashboard/providers/add", data={**form, "priority": "<b>x</b>"})
    assert wrong.status_code == 422 and "From the dashboard" in wrong.text and SECRET not in wrong.text
    assert await listed(browser_client, merchant) == []
    added = await browser_client.post("/dashboard/providers/add", data=form)
    assert added.status_code == 303 and "notice=provider_added" in added.headers["location"]
    [account] = await listed(browser_client, merchant)
    assert (account["label"], account["methods"], account["priority"], account["sandbox"]) == (
        "From the dashboard", ["mtn_bj"], 7, True)  # fmt: skip
    after = await browser_client.get(added.headers["location"])
    assert "From the dashboard" in after.text and SECRET not in after.text
    [entry] = await audited(engine, "provider.added")
    assert entry.actor == owner.email and entry.target == account["id"] and SECRET not in str(entry.details)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(provider_accounts).where(provider_accounts.c.id == account["id"]))).one()
    assert SECRET not in str(tuple(stored))  # sealed
    # A credential as long as accounts allow, of characters form-encoding triples, is read whole (not "expired").
    longest = {**form, "label": "Longest", "credential:api_key": "é" * 2048}  # 4,096 UTF-8 bytes, 12,288 encoded
    assert (await browser_client.post("/dashboard/providers/add", data=longest)).status_code == 303
    # In the live environment the form may choose the provider's live API.
    live = {**form, "env": "live", "label": "Live one", "priority": ""}
    assert (await browser_client.post("/dashboard/providers/add", data=live)).status_code == 303
    live_page = await browser_client.get(f"/dashboard/providers?app={merchant.id}&env=live&lang=en")
    row = live_page.text.split('class="account"')[1]
    assert "Live one" in row and ">live<" in row and ">100<" in row


async def test_an_owner_removes_an_account(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    account_id = await api_account(browser_client, merchant)
    await log_in(browser_client, owner)
    page = await browser_client.get(f"/dashboard/providers?app={merchant.id}")
    url = f"/dashboard/providers/{account_id}/remove"
    for forged in ({}, {"csrf": "forged"}):
        refused = await browser_client.post(url, data={**forged, "app": merchant.id, "env": "sandbox"})
        assert refused.status_code == 403
    assert len(await listed(browser_client, merchant)) == 1
    form = {"csrf": token_in(page.text), "app": merchant.id, "env": "sandbox"}
    assert (await browser_client.post(url, data={**form, "env": "live"})).status_code == 404  # not of that one
    removed = await browser_client.post(url, data=form)
    assert removed.status_code == 303 and "notice=provider_removed" in removed.headers["location"]
    assert await listed(browser_client, merchant) == []
    [entry] = await audited(engine, "provider.removed")
    assert entry.actor == owner.email and entry.target == account_id and entry.details["label"] == "Main"
    assert (await browser_client.post(url, data=form)).status_code == 404  # already removed


@pytest.mark.parametrize("role", ["developer", "viewer"])
async def test_only_an_owner_changes_accounts(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, role: str
) -> None:
    account_id = await api_account(browser_client, merchant)
    user = await new_user(engine, role, [merchant.id])
    await log_in(browser_client, user)
    page = await browser_client.get(f"/dashboard/providers?app={merchant.id}&lang=en")
    assert page.status_code == 200 and "Main" in page.text
    assert "/remove" not in page.text and "/dashboard/providers/add" not in page.text
    assert "Only an owner" in page.text
    form = {"csrf": token_in(page.text), "app": merchant.id, "env": "sandbox"}
    assert (await browser_client.post(f"/dashboard/providers/{account_id}/remove", data=form)).status_code == 403
    add = {**form, "provider": "stub", "label": "Mine", "credential:api_key": SECRET}
    assert (await browser_client.post("/dashboard/providers/add", data=add)).status_code == 403
    assert [a["id"] for a in await listed(browser_client, merchant)] == [account_id]


async def test_another_apps_accounts_are_not_shown_or_removed(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    from tests.conftest import new_merchant

    elsewhere = await new_merchant(engine)
    theirs = await api_account(browser_client, elsewhere, label="Theirs")
    owner = await new_user(engine, "owner", [merchant.id])
    await log_in(browser_client, owner)
    page = await browser_client.get(f"/dashboard/providers?app={elsewhere.id}")
    assert "Theirs" not in page.text
    form = {"csrf": token_in(page.text), "app": elsewhere.id, "env": "sandbox"}
    assert (await browser_client.post(f"/dashboard/providers/{theirs}/remove", data=form)).status_code == 404
    form["app"] = merchant.id
    assert (await browser_client.post(f"/dashboard/providers/{theirs}/remove", data=form)).status_code == 404
    assert len(await listed(browser_client, elsewhere)) == 1
