"""The developers' pages over HTTP (in process), on both databases: keys rotated with a grace period and
revoked, their last use recorded once a minute; webhook endpoints added (secret shown once), tested and
disabled; email settings; every change in the audit log; each role held to what it may do."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.attempts import AttemptStatus
from cauri.domain.clock import as_utc, utcnow
from cauri.domain.keys import hash_secret
from cauri.domain.users import Role
from cauri.services import developers
from cauri.services.apps import KeyUsage
from cauri.services.users import Session
from cauri.settings import Settings
from cauri.store.tables import api_keys, apps, audit_log, deliveries, events, webhook_endpoints
from cauri.workers.mail import Mailer
from tests.conftest import MerchantApp, runtime_of, uow
from tests.dashboard.conftest import User, log_in, new_user, token_in
from tests.outbox.test_emails import Inbox, mailing, paid, smtp  # noqa: F401 - mailing and smtp are fixtures

SECRET = re.compile(r'id="new-secret">([^<]+)<')


async def _key_id(engine: AsyncEngine, secret: str) -> str:
    async with engine.connect() as conn:
        key_id: str = (
            await conn.execute(select(api_keys.c.id).where(api_keys.c.secret_hash == hash_secret(secret)))
        ).scalar_one()
    return key_id


async def _actions(engine: AsyncEngine, app_id: str) -> list[tuple[str, str | None, dict[str, object]]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.target, audit_log.c.details)
                .where(audit_log.c.app_id == app_id)
                .order_by(audit_log.c.created_at, audit_log.c.id)
            )
        ).all()
    return [(r.action, r.target, dict(r.details)) for r in rows]


async def _calls(client: httpx.AsyncClient, secret: str) -> int:
    answer = await client.get("/v1/balances", headers={"Authorization": f"Bearer {secret}"})
    return answer.status_code


async def test_a_rotated_key_works_during_its_grace_and_a_revoked_one_never(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/keys", params={"app": merchant.id})
    assert page.status_code == 200 and merchant.secret.split("|")[0] in page.text
    assert merchant.secret not in page.text  # the prefix only
    old_id = await _key_id(engine, merchant.secret)
    form = {"csrf": token_in(page.text), "app": merchant.id, "grace": "24"}
    rotated = await browser_client.post(f"/dashboard/keys/{old_id}/rotate", data=form)
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    found = SECRET.search(rotated.text)
    assert found, "the new key is shown on the page that answers the rotation"
    new_secret = found.group(1)
    assert new_secret.startswith("pvk_sandbox_") and new_secret != merchant.secret
    assert await _calls(browser_client, new_secret) == 200
    assert await _calls(browser_client, merchant.secret) == 200  # its grace period
    again = await browser_client.get("/dashboard/keys", params={"app": merchant.id})
    assert new_secret not in again.text and new_secret.split("|")[0] in again.text  # never shown again
    assert "grace" in again.text
    async with engine.connect() as conn:
        expires = (await conn.execute(select(api_keys.c.expires_at).where(api_keys.c.id == old_id))).scalar_one()
    assert timedelta(hours=23, minutes=59) < as_utc(expires) - utcnow() <= timedelta(hours=24)
    # Rotating it again is refused: it is no longer the active key.
    form["csrf"] = token_in(again.text)
    assert (await browser_client.post(f"/dashboard/keys/{old_id}/rotate", data=form)).status_code == 404
    revoked = await browser_client.post(f"/dashboard/keys/{old_id}/revoke", data=form)
    assert revoked.status_code == 303 and "notice=revoked" in revoked.headers["location"]
    assert await _calls(browser_client, merchant.secret) == 401  # at once in this process
    assert await _calls(browser_client, new_secret) == 200
    actions = await _actions(engine, merchant.id)
    assert [a for a, _t, _d in actions] == ["key.rotated", "key.revoked"]
    assert actions[0][2]["grace_hours"] == 24 and actions[0][2]["new_key"] == new_secret.split("|")[0]
    assert new_secret not in str(actions)  # the audit log names keys by prefix alone


async def test_a_rotation_without_grace_stops_the_old_key_at_once(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/keys", params={"app": merchant.id})
    old_id = await _key_id(engine, merchant.secret)
    form = {"csrf": token_in(page.text), "app": merchant.id, "grace": "0"}
    rotated = await browser_client.post(f"/dashboard/keys/{old_id}/rotate", data=form)
    found = SECRET.search(rotated.text)
    assert rotated.status_code == 200 and found
    assert (await _calls(browser_client, merchant.secret), await _calls(browser_client, found.group(1))) == (401, 200)
    again = await browser_client.get("/dashboard/keys", params={"app": merchant.id, "lang": "en"})
    assert 'class="key revoked"' in again.text and found.group(1) not in again.text


async def test_a_bad_grace_is_named_and_nothing_changes(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/keys", params={"app": merchant.id})
    old_id = await _key_id(engine, merchant.secret)
    for grace in ("5", "-1", "abc", "", "24" * 40):
        form = {"csrf": token_in(page.text), "app": merchant.id, "grace": grace}
        answer = await browser_client.post(f"/dashboard/keys/{old_id}/rotate", data=form)
        assert answer.status_code == 422 and "grace:" in answer.text, grace
    async with engine.connect() as conn:
        assert len((await conn.execute(select(api_keys.c.id).where(api_keys.c.app_id == merchant.id))).all()) == 1
    assert await _actions(engine, merchant.id) == []


async def test_a_viewer_sees_keys_and_endpoints_but_changes_nothing(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    viewer = await new_user(engine, "viewer", [merchant.id])
    await log_in(browser_client, viewer)
    keys = await browser_client.get("/dashboard/keys", params={"app": merchant.id})
    assert keys.status_code == 200 and "/rotate" not in keys.text and "/dashboard/keys/create" not in keys.text
    hooks = await browser_client.get("/dashboard/webhooks", params={"app": merchant.id})
    assert hooks.status_code == 200 and "/dashboard/webhooks/add" not in hooks.text
    token = token_in(keys.text)
    key_id = await _key_id(engine, merchant.secret)
    for path, form in (
        (f"/dashboard/keys/{key_id}/rotate", {"grace": "24"}),
        (f"/dashboard/keys/{key_id}/revoke", {}),
        ("/dashboard/keys/create", {"env": "live"}),
        ("/dashboard/webhooks/add", {"url": "https://example.com/hook"}),
        ("/dashboard/emails", {"send_receipts": "on"}),
    ):
        refused = await browser_client.post(path, data={"csrf": token, "app": merchant.id, **form})
        assert refused.status_code == 403, path
    assert await _calls(browser_client, merchant.secret) == 200
    assert await _actions(engine, merchant.id) == []


async def test_a_developer_manages_keys_but_not_email_settings(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    developer = await new_user(engine, "developer", [merchant.id])
    await log_in(browser_client, developer)
    page = await browser_client.get("/dashboard/keys", params={"app": merchant.id})
    form = {"csrf": token_in(page.text), "app": merchant.id, "env": "live"}
    created = await browser_client.post("/dashboard/keys/create", data=form)
    found = SECRET.search(created.text)
    assert created.status_code == 200 and found and found.group(1).startswith("pvk_")
    assert not found.group(1).startswith("pvk_sandbox_")
    hooks = await browser_client.get("/dashboard/webhooks", params={"app": merchant.id})
    form = {"csrf": token_in(hooks.text), "app": merchant.id, "env": "sandbox", "url": "https://shop.example/hooks"}
    added = await browser_client.post("/dashboard/webhooks/add", data=form)
    hook_secret = SECRET.search(added.text)  # a developer adds endpoints too
    assert added.status_code == 200 and hook_secret and hook_secret.group(1).startswith("whsec_")
    emails = await browser_client.get("/dashboard/emails", params={"app": merchant.id, "lang": "en"})
    assert "disabled" in emails.text and "Only an owner" in emails.text
    refused = await browser_client.post("/dashboard/emails", data={"csrf": token_in(page.text), "app": merchant.id})
    assert refused.status_code == 403
    assert [a for a, _t, _d in await _actions(engine, merchant.id)] == ["key.created", "webhook.endpoint_added"]


async def test_another_apps_key_is_not_found(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    from tests.conftest import new_merchant

    other = await new_merchant(engine)
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/keys", params={"app": merchant.id})
    other_key = await _key_id(engine, other.secret)
    for app_id in (merchant.id, other.id):
        answer = await browser_client.post(f"/dashboard/keys/{other_key}/revoke",
                                           data={"csrf": token_in(page.text), "app": app_id})  # fmt: skip
        assert answer.status_code == 404
    assert await _calls(browser_client, other.secret) == 200


async def test_endpoints_added_with_the_secret_once_tested_and_disabled(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/webhooks", params={"app": merchant.id})
    form = {"csrf": token_in(page.text), "app": merchant.id, "env": "sandbox", "url": "http://127.0.0.1:9/hook",
            "event:payment.success": "1", "event:payment.failed": "1", "event:made.up": "1"}  # fmt: skip
    added = await browser_client.post("/dashboard/webhooks/add", data=form)
    found = SECRET.search(added.text)
    assert added.status_code == 200 and found and found.group(1).startswith("whsec_")
    async with engine.connect() as conn:
        row = (await conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.app_id == merchant.id))).one()
    assert row.event_types == "payment.success,payment.failed" and found.group(1).encode() not in row.secret_encrypted
    listed = await browser_client.get("/dashboard/webhooks", params={"app": merchant.id})
    assert found.group(1) not in listed.text and "http://127.0.0.1:9/hook" in listed.text
    tested = await browser_client.post(f"/dashboard/webhooks/{row.id}/test", data=form)
    assert tested.status_code == 303 and "notice=tested" in tested.headers["location"]
    async with engine.connect() as conn:
        test_events = (await conn.execute(select(events).where(events.c.app_id == merchant.id))).all()
        sent = (await conn.execute(select(deliveries).where(deliveries.c.endpoint_id == row.id))).all()
    assert [e.type for e in test_events] == ["webhook.test"]
    listed_events = await browser_client.get("/v1/events", headers=merchant.headers)
    assert listed_events.json()["data"] == []  # no event of the API's contract
    assert [d.id for d in sent] == [f"{test_events[0].id}:{row.id}"] and sent[0].status == "pending"
    disabled = await browser_client.post(f"/dashboard/webhooks/{row.id}/disable", data=form)
    assert disabled.status_code == 303
    async with engine.connect() as conn:
        assert (
            await conn.execute(select(webhook_endpoints.c.is_enabled).where(webhook_endpoints.c.id == row.id))
        ).scalar_one() is False
        assert (
            await conn.execute(select(deliveries.c.status).where(deliveries.c.endpoint_id == row.id))
        ).scalar_one() == "failed"
    # A disabled endpoint takes no test event.
    assert (await browser_client.post(f"/dashboard/webhooks/{row.id}/test", data=form)).status_code == 404
    actions = await _actions(engine, merchant.id)
    assert [a for a, _t, _d in actions] == ["webhook.endpoint_added", "webhook.test_sent", "webhook.endpoint_disabled"]
    assert all(t == row.id for _a, t, _d in actions)
    failing = await browser_client.get("/dashboard/webhooks", params={"app": merchant.id})
    assert "0 %" in failing.text  # its one delivery failed: a rate of zero


async def test_a_bad_endpoint_url_is_named(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/webhooks", params={"app": merchant.id})
    for url in ("", "ftp://example.com", "http://exa mple.com", "<script>alert(1)</script>"):
        answer = await browser_client.post("/dashboard/webhooks/add", data={"csrf": token_in(page.text),
                                           "app": merchant.id, "url": url})  # fmt: skip
        assert answer.status_code == 422 and "url:" in answer.text and "<script>alert" not in answer.text, url
    assert await _actions(engine, merchant.id) == []


async def test_email_settings_saved_and_audited(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/emails", params={"app": merchant.id})
    form = {"csrf": token_in(page.text), "app": merchant.id, "send_notices": "on", "notify_failures": "on",
            "notify_email": "Finance@Example.com", "language": "en"}  # fmt: skip
    saved = await browser_client.post("/dashboard/emails", data=form)
    assert saved.status_code == 303 and "notice=saved" in saved.headers["location"]
    async with engine.connect() as conn:
        app = (await conn.execute(select(apps).where(apps.c.id == merchant.id))).one()
    assert (app.send_receipts, app.send_notices, app.notify_failures) == (False, True, True)
    assert app.notify_email == "Finance@example.com" and app.notice_language == "en"
    ((action, _target, details),) = await _actions(engine, merchant.id)
    assert action == "app.emails_changed" and details["send_receipts"] == [True, False]
    assert details["notice_language"] == [None, "en"]
    for bad in ({"language": "de"}, {"notify_email": "not an email"}):
        refused = await browser_client.post("/dashboard/emails", data={**form, **bad})
        assert refused.status_code == 422, bad
    # Saving the same again changes nothing and records nothing.
    assert (await browser_client.post("/dashboard/emails", data=form)).status_code == 303
    assert len(await _actions(engine, merchant.id)) == 1


async def test_a_keys_last_use_is_written_once_a_minute(engine: AsyncEngine, merchant: MerchantApp) -> None:
    key_id = await _key_id(engine, merchant.secret)
    usage = KeyUsage(interval=60.0)
    writes = 0

    def counted() -> object:
        nonlocal writes
        writes += 1
        return uow(engine)

    for _ in range(50):
        usage.seen(key_id, counted)  # type: ignore[arg-type]
    await usage.settle()
    assert writes == 1
    async with engine.connect() as conn:
        first = (await conn.execute(select(api_keys.c.last_used_at).where(api_keys.c.id == key_id))).scalar_one()
    assert first is not None
    usage._written[key_id] -= 61  # a minute later
    usage.seen(key_id, counted)  # type: ignore[arg-type]
    await usage.settle()
    async with engine.connect() as conn:
        second = (await conn.execute(select(api_keys.c.last_used_at).where(api_keys.c.id == key_id))).scalar_one()
    assert writes == 2 and second >= first


async def test_the_api_records_a_keys_last_use(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    await log_in(browser_client, owner)
    before = await browser_client.get("/dashboard/keys", params={"app": merchant.id, "lang": "en"})
    assert "never" in before.text
    for _ in range(3):
        assert await _calls(browser_client, merchant.secret) == 200
    gateway = browser_client._transport.app.state.gateway  # type: ignore[attr-defined]
    await gateway.key_usage.settle()
    after = await browser_client.get("/dashboard/keys", params={"app": merchant.id})
    assert "never" not in after.text


async def test_notices_are_written_in_the_apps_language(
    client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp,
    mailing: Settings,  # noqa: F811 - the fixture imported above
    smtp: tuple[Inbox, int],  # noqa: F811 - the fixture imported above
    browser_client: httpx.AsyncClient,
) -> None:  # fmt: skip
    """The server says French; the app's owner chose English for its notices; the customer's receipt keeps the
    customer's own language."""
    assert mailing.merchant_language == "fr"
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/emails", params={"app": merchant.id})
    form = {"csrf": token_in(page.text), "app": merchant.id, "send_receipts": "on", "send_notices": "on",
            "notify_email": "shop@merchant.example", "language": "en"}  # fmt: skip
    assert (await browser_client.post("/dashboard/emails", data=form)).status_code == 303
    await paid(client, engine, merchant, locale="fr", outcome=AttemptStatus.SUCCESS, email_address="c@client.example")
    await Mailer(runtime_of(mailing, engine)).run_once()
    [notice] = smtp[0].to("shop@merchant.example")
    [receipt] = smtp[0].to("c@client.example")
    assert notice["Subject"].startswith("Payment received: F\u202fCFA\u00a05,000")
    assert receipt["Subject"].startswith("Votre reçu de paiement")


async def test_two_rotations_of_one_key_at_once_make_one_new_key(engine: AsyncEngine, merchant: MerchantApp) -> None:
    key_id = await _key_id(engine, merchant.secret)
    session = Session(b"\0" * 32, "usr_test", "dev@example.com", Role.DEVELOPER, (merchant.id,))
    results = await asyncio.gather(
        *(developers.rotate_key(uow(engine), session, merchant.id, key_id, "24") for _ in range(2)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NewKey", "NotFound"]
    async with engine.connect() as conn:
        keys = (await conn.execute(select(api_keys.c.id).where(api_keys.c.app_id == merchant.id))).all()
    assert len(keys) == 2
    assert [a for a, _t, _d in await _actions(engine, merchant.id)] == ["key.rotated"]
