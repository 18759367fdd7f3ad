"""The dashboard over HTTP (in process), on both databases: login, search, export, a payment's page, actions."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.app import create_app
from cauri.settings import Settings
from cauri.store.tables import audit_log, deliveries, payments
from tests.api.test_refunds import paid_payment
from tests.conftest import MerchantApp, payment_body
from tests.dashboard.conftest import User, log_in, new_user, token_in


async def pay_in(client: httpx.AsyncClient, merchant: MerchantApp, **overrides: object) -> str:
    body = payment_body(currency="XOF", methods=["mtn_bj"], **overrides)
    created = await client.post("/v1/payments/initialize", json=body, headers=merchant.headers)
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["data"]["id"]
    return payment_id


async def test_pages_want_a_login(browser_client: httpx.AsyncClient) -> None:
    for path in ("/dashboard", "/dashboard/payments", "/dashboard/audit", "/dashboard/payments.csv?app=x",
                 "/dashboard/payments/py_nothing"):  # fmt: skip
        answer = await browser_client.get(path, follow_redirects=True)
        assert answer.url.path == "/dashboard/login" and 'name="password"' in answer.text, path


async def test_the_session_cookie_is_httponly_lax_and_scoped(browser_client: httpx.AsyncClient, owner: User) -> None:
    answer = await log_in(browser_client, owner)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/payments"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("cauri_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain http here; https public URLs make it Secure
    page = await browser_client.get("/dashboard/payments")
    assert page.status_code == 200 and owner.email in page.text
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
        assert header in page.headers
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_a_form_without_its_token_is_refused(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    payment_id = await pay_in(browser_client, merchant)
    login_page = await browser_client.get("/dashboard/login")
    form = {"email": owner.email, "password": owner.password}
    assert (await browser_client.post("/dashboard/login", data=form)).status_code == 403
    assert (await browser_client.post("/dashboard/login", data={**form, "csrf": "0" * 64})).status_code == 403
    assert token_in(login_page.text)
    await log_in(browser_client, owner)
    for forged in ({}, {"csrf": "forged"}):
        refused = await browser_client.post(f"/dashboard/payments/{payment_id}/cancel", data=forged)
        assert refused.status_code == 403
    async with engine.connect() as conn:
        status = (await conn.execute(select(payments.c.status).where(payments.c.id == payment_id))).scalar_one()
    assert status == "initiated"


async def test_a_wrong_password_is_throttled(browser_client: httpx.AsyncClient, owner: User) -> None:
    for _ in range(5):
        assert (await log_in(browser_client, owner, password="not the password")).status_code == 401
    throttled = await log_in(browser_client, owner)
    assert throttled.status_code == 429 and "cauri_session" not in throttled.headers.get("set-cookie", "")


async def test_search_by_metadata_email_status_and_amount(
    browser_client: httpx.AsyncClient, merchant: MerchantApp, owner: User
) -> None:
    wanted = await pay_in(browser_client, merchant, amount=4321, metadata={"order_id": "A-77"},
                          customer={"email": "awa@example.com", "first_name": "Awa", "last_name": "D"})  # fmt: skip
    other = await pay_in(browser_client, merchant, amount=100, metadata={"order_id": "B-1"})
    await log_in(browser_client, owner)

    async def found(**query: str) -> set[str]:
        page = await browser_client.get("/dashboard/payments?" + urlencode({"app": merchant.id, **query}))
        assert page.status_code == 200, page.text
        return {pid for pid in (wanted, other) if f"/dashboard/payments/{pid}" in page.text}

    assert await found() == {wanted, other}
    assert await found(meta="order_id=A-77") == {wanted}
    assert await found(email="AWA@example.com") == {wanted}
    assert await found(amount_min="1000") == {wanted}
    assert await found(amount_max="1000") == {other}
    assert await found(status="success") == set()
    assert await found(status="initiated", meta="order_id=B-1") == {other}
    assert await found(env="live") == set()
    bad = await browser_client.get("/dashboard/payments?" + urlencode({"app": merchant.id, "from": "<b>"}))
    assert bad.status_code == 422 and "<b>" not in bad.text


async def test_pages_follow_the_keyset_cursor_without_repeats(
    browser_client: httpx.AsyncClient, merchant: MerchantApp, owner: User
) -> None:
    made = {await pay_in(browser_client, merchant, metadata={"batch": "p"}) for _ in range(55)}
    await log_in(browser_client, owner)
    seen: list[str] = []
    url = "/dashboard/payments?" + urlencode({"app": merchant.id, "meta": "batch=p"})
    pages = 0
    while url:
        page = await browser_client.get(url)
        pages += 1
        seen += [pid for pid in made if f'/dashboard/payments/{pid}"' in page.text]
        nxt = (
            page.text.split('rel="next"')[0].rsplit('href="', 1)[-1].split('"')[0] if 'rel="next"' in page.text else ""
        )
        url = "/dashboard/payments" + nxt.replace("&amp;", "&") if nxt else ""
    assert pages == 2 and sorted(seen) == sorted(made)


async def test_csv_export_escapes_formulas(
    browser_client: httpx.AsyncClient, merchant: MerchantApp, owner: User
) -> None:
    await pay_in(browser_client, merchant, description='=HYPERLINK("http://evil")', metadata={"k": "csv"})
    await log_in(browser_client, owner)
    answer = await browser_client.get("/dashboard/payments.csv?" + urlencode({"app": merchant.id, "meta": "k=csv"}))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:3] == ["id", "created_at", "status"] and len(rows) == 2
    assert rows[1][7] == '\'=HYPERLINK("http://evil")'
    other = await browser_client.get("/dashboard/payments.csv?app=app_of_someone_else")
    assert other.status_code == 404


async def test_a_payment_page_tells_its_story_and_resends_its_webhook(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    await browser_client.post("/v1/webhooks", json={"url": "https://example.com/hook"}, headers=merchant.headers)
    payment_id = await paid_payment(browser_client, engine, merchant, amount=700)
    await log_in(browser_client, owner)
    listed = await browser_client.get(f"/dashboard/payments?app={merchant.id}&status=success")
    row = listed.text.split(f"/dashboard/payments/{payment_id}")[1].split("</tr>")[0]
    assert "mtn_bj" in row  # the method of the attempt that paid
    page = await browser_client.get(f"/dashboard/payments/{payment_id}?lang=en")
    assert page.status_code == 200
    for text in (
        "Initialized",
        "mtn_bj",
        "sandbox",
        "payment.initiated",
        "payment.success",
        "https://example.com/hook",
    ):
        assert text in page.text, text
    event_id = page.text.split('name="event_id" value="')[1].split('"')[0]
    async with engine.begin() as conn:
        await conn.execute(deliveries.update().where(deliveries.c.event_id == event_id).values(status="failed"))
    form = {"csrf": token_in(page.text), "event_id": event_id}
    answer = await browser_client.post(f"/dashboard/payments/{payment_id}/resend", data=form)
    assert answer.status_code == 303 and "notice=resent" in answer.headers["location"]
    async with engine.connect() as conn:
        states = (await conn.execute(select(deliveries.c.status).where(deliveries.c.event_id == event_id))).all()
        audit = (await conn.execute(select(audit_log).where(audit_log.c.action == "webhook.resent"))).all()
    assert [s.status for s in states] == ["pending"]
    assert any(a.target == payment_id and a.actor == owner.email for a in audit)
    refund = await browser_client.post(f"/dashboard/payments/{payment_id}/refund",
                                       data={"csrf": form["csrf"], "amount": "200", "reason": "Broken"})  # fmt: skip
    assert refund.status_code == 303 and "notice=refunded" in refund.headers["location"]
    again = await browser_client.get(refund.headers["location"])
    assert "Broken" in again.text
    too_much = await browser_client.post(f"/dashboard/payments/{payment_id}/refund",
                                         data={"csrf": form["csrf"], "amount": "9999"})  # fmt: skip
    assert too_much.status_code == 422


async def test_a_viewer_reads_but_is_refused_an_owners_action(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    payment_id = await pay_in(browser_client, merchant)
    viewer = await new_user(engine, "viewer", [merchant.id])
    await log_in(browser_client, viewer)
    page = await browser_client.get(f"/dashboard/payments/{payment_id}")
    assert page.status_code == 200 and "/cancel" not in page.text and "/refund" not in page.text
    refused = await browser_client.post(f"/dashboard/payments/{payment_id}/cancel", data={"csrf": token_in(page.text)})
    assert refused.status_code == 403
    async with engine.connect() as conn:
        status = (await conn.execute(select(payments.c.status).where(payments.c.id == payment_id))).scalar_one()
    assert status == "initiated"


async def test_a_user_sees_only_their_apps(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp
) -> None:
    from tests.conftest import new_merchant

    elsewhere = await new_merchant(engine)
    theirs = await pay_in(browser_client, elsewhere)
    owner = await new_user(engine, "owner", [merchant.id])
    await log_in(browser_client, owner)
    assert (await browser_client.get(f"/dashboard/payments/{theirs}")).status_code == 404
    listed = await browser_client.get(f"/dashboard/payments?app={elsewhere.id}")
    assert theirs not in listed.text  # an app not theirs falls back to their own
    page = await browser_client.get("/dashboard/payments")
    token = token_in(page.text)
    refused = await browser_client.post(f"/dashboard/payments/{theirs}/cancel", data={"csrf": token})
    assert refused.status_code == 404


async def test_pages_speak_french_and_english(browser_client: httpx.AsyncClient, owner: User) -> None:
    assert "Mot de passe" in (await browser_client.get("/dashboard/login?lang=fr")).text
    assert "Password" in (await browser_client.get("/dashboard/login?lang=en")).text
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/payments?status=failed&lang=fr")
    assert "Paiements" in page.text and "Exporter" in page.text
    assert 'href="?status=failed&amp;lang=en"' in page.text  # the other language keeps the filters


async def test_the_session_cookie_is_secure_behind_an_https_public_url(
    settings: Settings, engine: AsyncEngine, owner: User
) -> None:
    app = create_app(settings.model_copy(update={"public_url": "https://pay.example.com"}), engine)
    # A proxy terminates TLS and speaks plain http to the gateway: the public URL alone says https.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cauri.test") as client:
        page = await client.get("/dashboard/login")
        login_cookie = next(c for c in page.headers.get_list("set-cookie") if c.startswith("cauri_login="))
        assert "Secure" in login_cookie
        form = {"csrf": token_in(page.text), "email": owner.email, "password": owner.password}
        answer = await client.post("/dashboard/login", data=form, headers={"Cookie": login_cookie.split(";")[0]})
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("cauri_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie
