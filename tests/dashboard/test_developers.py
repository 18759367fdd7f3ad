"""The developer pages over HTTP, on both databases: keys, webhook endpoints and email settings, by role."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.store.tables import apps, audit_log
from tests.conftest import MerchantApp, new_merchant
from tests.dashboard.conftest import User, log_in, new_user, token_in

PAGE = "/dashboard/developers?app={app}&env=sandbox"


async def test_a_new_key_is_shown_once_and_the_old_one_stops_after_its_grace(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    await log_in(browser_client, owner)
    page = await browser_client.get(PAGE.format(app=merchant.id))
    assert page.status_code == 200 and merchant.secret.split("|")[0] in page.text
    form = {"csrf": token_in(page.text), "app": merchant.id, "env": "sandbox", "grace_hours": "0"}
    rotated = await browser_client.post("/dashboard/developers/keys", data=form)
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    secret = re.search(r'<code id="secret">([^<]+)</code>', rotated.text)
    assert secret is not None
    new_key = secret.group(1).replace("&#124;", "|")
    old = await browser_client.get("/v1/payments", headers={"Authorization": f"Bearer {merchant.secret}"})
    new = await browser_client.get("/v1/payments", headers={"Authorization": f"Bearer {new_key}"})
    assert (old.status_code, new.status_code) == (401, 200)
    again = await browser_client.get(PAGE.format(app=merchant.id) + "&lang=en")
    assert new_key not in again.text and "revoked" in again.text
    async with engine.connect() as conn:
        actions = (await conn.execute(select(audit_log.c.action).where(audit_log.c.app_id == merchant.id))).scalars()
        assert "key.rotated" in list(actions)


async def test_endpoints_are_added_with_their_secret_once_and_disabled(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    developer = await new_user(engine, "developer", [merchant.id])
    await log_in(browser_client, developer)
    page = await browser_client.get(PAGE.format(app=merchant.id))
    token = token_in(page.text)
    added = await browser_client.post("/dashboard/developers/webhooks", data={
        "csrf": token, "app": merchant.id, "env": "sandbox", "url": "https://shop.example/hooks"})  # fmt: skip
    assert added.status_code == 200 and 'id="secret"' in added.text and "https://shop.example/hooks" in added.text
    bad = await browser_client.post("/dashboard/developers/webhooks", data={
        "csrf": token, "app": merchant.id, "env": "sandbox", "url": "ftp://<x>"})  # fmt: skip
    assert bad.status_code == 422 and "<x>" not in bad.text
    listed = await browser_client.get("/v1/webhooks", headers={"Authorization": f"Bearer {merchant.secret}"})
    endpoint_id = listed.json()["data"][0]["id"]
    disabled = await browser_client.post("/dashboard/developers/webhooks/disable", data={
        "csrf": token, "app": merchant.id, "env": "sandbox", "endpoint_id": endpoint_id})  # fmt: skip
    assert disabled.status_code == 303
    after = await browser_client.get(PAGE.format(app=merchant.id))
    assert "https://shop.example/hooks" not in after.text
    emails = await browser_client.post("/dashboard/developers/emails", data={"csrf": token, "app": merchant.id})
    assert emails.status_code == 403  # a developer does not decide what customers are sent


async def test_an_owner_turns_receipts_off(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    await log_in(browser_client, owner)
    token = token_in((await browser_client.get(PAGE.format(app=merchant.id))).text)
    saved = await browser_client.post("/dashboard/developers/emails", data={
        "csrf": token, "app": merchant.id, "notices": "on", "notify_email": "Shop@Example.com"})  # fmt: skip
    assert saved.status_code == 303
    async with engine.connect() as conn:
        row = (await conn.execute(select(apps).where(apps.c.id == merchant.id))).one()
    assert (row.send_receipts, row.send_notices, row.notify_failures) == (False, True, False)
    assert row.notify_email == "Shop@example.com"
    bad = await browser_client.post("/dashboard/developers/emails", data={
        "csrf": token, "app": merchant.id, "notify_email": "not an address"})  # fmt: skip
    assert bad.status_code == 422


async def test_a_viewer_changes_nothing_and_nobody_touches_another_apps_keys(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    viewer = await new_user(engine, "viewer", [merchant.id])
    await log_in(browser_client, viewer)
    page = await browser_client.get(PAGE.format(app=merchant.id))
    assert "/dashboard/developers/keys" not in page.text
    token = token_in(page.text)
    refused = await browser_client.post("/dashboard/developers/keys", data={
        "csrf": token, "app": merchant.id, "env": "sandbox", "grace_hours": "1"})  # fmt: skip
    assert refused.status_code == 403
    elsewhere = await new_merchant(engine)
    owner = await new_user(engine, "owner", [merchant.id])
    browser_client.cookies.clear()
    await log_in(browser_client, owner)
    token = token_in((await browser_client.get(PAGE.format(app=merchant.id))).text)
    prefix = elsewhere.secret.split("|")[0]
    for app_id in (merchant.id, elsewhere.id):
        answer = await browser_client.post("/dashboard/developers/keys/revoke",
                                           data={"csrf": token, "app": app_id, "prefix": prefix})  # fmt: skip
        assert answer.status_code == 404
    still = await browser_client.get("/v1/payments", headers={"Authorization": f"Bearer {elsewhere.secret}"})
    assert still.status_code == 200
