"""The overview on both databases: figures per currency, method and day computed by the database from seeded
payments and attempts, stuck attempts and failing endpoints flagged, the charts' text escaped."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.dashboard.charts import Bar, bar_chart, rate_bars
from cauri.domain.clock import utcnow
from cauri.domain.overview import Figures, success_rate
from cauri.domain.payments import new_id
from cauri.domain.users import Role
from cauri.services import overview as service
from cauri.services.users import Session
from cauri.store.tables import attempts, deliveries, payments, webhook_endpoints
from tests.conftest import MerchantApp, new_merchant, uow
from tests.dashboard.conftest import User, log_in

#: The whole customer, as initialize stores it: another test's expiry job may announce these payments.
CUSTOMER = {"id": "cus_overview", "email": "a@example.com", "first_name": "Awa", "last_name": "Dossou",
            "phone": None, "address": None, "city": None, "state": None, "country_code": None,
            "zip_code": None}  # fmt: skip


async def seed_payment(
    engine: AsyncEngine, app_id: str, at: datetime, amount: int, currency: str, status: str,
    tries: list[tuple[str, str]], *, environment: str = "sandbox", tried_at: datetime | None = None,
) -> str:  # fmt: skip
    """A payment created at ``at`` with its attempts (method, status), as the checkout would have left it."""
    payment_id = new_id("py_")
    async with engine.begin() as conn:
        await conn.execute(
            payments.insert().values(
                id=payment_id,
                app_id=app_id,
                environment=environment,
                status=status,
                amount=amount,
                currency=currency,
                description="Seeded",
                return_url="https://example.com/back",
                customer_email="a@example.com",
                customer=CUSTOMER,
                metadata={},
                is_processed=False,
                initiated_at=at,
                created_at=at,
                updated_at=at,
            )
        )
        for method, outcome in tries:
            started = tried_at or at
            await conn.execute(
                attempts.insert().values(
                    id=new_id("att_"),
                    payment_id=payment_id,
                    method=method,
                    connector="sandbox",
                    status=outcome,
                    created_at=started,
                    updated_at=started,
                )
            )
    return payment_id


def owner_session(app_id: str) -> Session:
    return Session(b"\0" * 32, "usr_test", "owner@example.com", Role.OWNER, (app_id,))


async def test_figures_per_currency_method_and_day(engine: AsyncEngine, merchant: MerchantApp) -> None:
    now = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    app = merchant.id
    await seed_payment(engine, app, now - timedelta(hours=1), 1500, "XOF", "success",
                       [("mtn_bj", "failed"), ("mtn_bj", "success")])  # fmt: skip
    await seed_payment(engine, app, now - timedelta(hours=2), 2500, "XOF", "success", [("card_xof", "success")])
    await seed_payment(engine, app, now - timedelta(hours=3), 1000, "XOF", "failed", [("mtn_bj", "failed")])
    await seed_payment(engine, app, now - timedelta(hours=11, minutes=59), 700, "XOF", "initiated", [])
    await seed_payment(engine, app, datetime(2026, 3, 1, 0, 0, tzinfo=UTC), 5000, "XOF", "success",
                       [("mtn_bj", "success")])  # fmt: skip
    await seed_payment(engine, app, datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC), 40, "USD", "success",
                       [("card_usd", "success")])  # fmt: skip
    # Outside: last month, the live environment, another app.
    await seed_payment(engine, app, datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC), 9, "XOF", "success", [])
    await seed_payment(engine, app, now, 9, "XOF", "success", [], environment="live")
    other = await new_merchant(engine)
    await seed_payment(engine, other.id, now, 9, "XOF", "success", [])

    data = await service.overview(uow(engine), owner_session(app), app, "sandbox", 30, now=now)
    assert data.today.by_currency == {"XOF": Figures(4, 2, 4000)}
    assert data.today.by_method == {("card_xof", "XOF"): Figures(1, 1, 2500), ("mtn_bj", "XOF"): Figures(3, 1, 1500)}
    assert data.month.by_currency == {"USD": Figures(1, 1, 40), "XOF": Figures(5, 3, 9000)}
    assert data.month.by_method[("mtn_bj", "XOF")] == Figures(4, 2, 6500)
    assert list(data.days) == ["USD", "XOF"] and len(data.days["XOF"]) == 15
    xof = dict(data.days["XOF"])
    assert xof[date(2026, 3, 1)] == Figures(1, 1, 5000) and xof[date(2026, 3, 15)] == Figures(4, 2, 4000)
    assert sum(f.count for f in xof.values()) == 5
    assert dict(data.days["USD"])[date(2026, 3, 1)] == Figures(1, 1, 40)  # the last second of the day
    assert data.today.by_currency["XOF"].rate == 50 and data.stuck == [] and data.failing_endpoints == []


async def test_stuck_attempts_and_failing_endpoints_are_flagged(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    now = utcnow()
    stuck = await seed_payment(engine, merchant.id, now - timedelta(minutes=2), 700, "XOF", "pending",
                               [("mtn_bj", "pending")], tried_at=now - timedelta(minutes=45))  # fmt: skip
    recent = await seed_payment(engine, merchant.id, now - timedelta(minutes=2), 800, "XOF", "pending",
                                [("mtn_bj", "pending")], tried_at=now - timedelta(minutes=5))  # fmt: skip
    hook = await browser_client.post("/v1/webhooks", json={"url": "https://example.com/<b>hook</b>"},
                                     headers=merchant.headers)  # fmt: skip
    assert hook.status_code == 201
    async with engine.begin() as conn:
        endpoint_id = (
            (await conn.execute(webhook_endpoints.select().where(webhook_endpoints.c.app_id == merchant.id))).one().id
        )
    from cauri.services import developers

    await developers.send_test_event(uow(engine), owner_session(merchant.id), merchant.id, "sandbox", endpoint_id)
    async with engine.begin() as conn:
        await conn.execute(
            update(deliveries).where(deliveries.c.endpoint_id == endpoint_id).values(status="failed", attempts=11)
        )
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/overview", params={"app": merchant.id, "lang": "en"})
    assert page.status_code == 200
    flags = page.text.split('<section class="panel flags" role="alert">', 1)[1].split("</section>", 1)[0]
    assert stuck in flags and recent not in flags
    assert "https://example.com/&lt;b&gt;hook&lt;/b&gt;" in flags and "1 failed, 0 delivered" in flags
    wider = await browser_client.get("/dashboard/overview", params={"app": merchant.id, "stuck": "3"})
    assert stuck in wider.text and recent in wider.text
    for bad in ("0", "-5", "x", "99999999"):
        refused = await browser_client.get("/dashboard/overview", params={"app": merchant.id, "stuck": bad})
        assert refused.status_code == 422 and "stuck" in refused.text


def plain(text: str) -> str:
    """Babel's narrow and no-break spaces as plain ones."""
    return html.unescape(text).replace("\u202f", " ").replace("\xa0", " ").strip()


def _cells(section: str, attribute: str, value: str) -> dict[str, str]:
    row = re.search(rf'<tr {attribute}="{re.escape(value)}">(.*?)</tr>', section, re.S)
    assert row, f"{attribute}={value}"
    return {name: plain(text) for name, text in
            re.findall(r'class="num (\w+)">([^<]*)<', row.group(1))}  # fmt: skip


async def test_the_page_shows_the_seeded_figures(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, owner: User, merchant: MerchantApp
) -> None:
    now = utcnow()
    at = max(now - timedelta(minutes=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
    await seed_payment(engine, merchant.id, at, 1500, "XOF", "success", [("mtn_bj", "failed"), ("mtn_bj", "success")])
    await seed_payment(engine, merchant.id, at, 2500, "XOF", "success", [("card_xof", "success")])
    await seed_payment(engine, merchant.id, at, 1000, "XOF", "failed", [("mtn_bj", "failed")])
    await log_in(browser_client, owner)
    page = await browser_client.get("/dashboard/overview", params={"app": merchant.id, "lang": "en"})
    assert page.status_code == 200 and "flags" not in page.text
    today, month = page.text.split('<section class="panel figures">')[1:3]
    for section in (today, month):
        assert _cells(section, "data-currency", "XOF") == {"volume": "F CFA 4,000", "count": "3", "succeeded": "2",
                                                          "rate": "67 %"}  # fmt: skip
        assert _cells(section, "data-method", "mtn_bj") == {"volume": "F CFA 1,500", "count": "3", "succeeded": "1",
                                                           "rate": "33 %"}  # fmt: skip
        assert _cells(section, "data-method", "card_xof")["rate"] == "100 %"
    svg = plain(page.text.split('<svg xmlns="http://www.w3.org/2000/svg"', 1)[1])
    assert f"{now.date().isoformat()}: F CFA 4,000, 2 of 3 payments succeeded" in svg
    assert "<script" not in page.text


def test_success_rates_round_half_up_with_integers() -> None:
    assert [success_rate(s, t) for s, t in ((0, 0), (1, 2), (2, 3), (1, 3), (1, 8), (199, 200))] == [
        None, 50, 67, 33, 13, 100,
    ]  # fmt: skip


def test_bars_scale_to_the_largest_and_a_small_value_still_shows() -> None:
    drawn = str(bar_chart([Bar("1", 0, "a"), Bar("2", 1, "b"), Bar("3", 1000, "c")], title="t", top_label="1000"))
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)" class="bar"', drawn)]
    assert heights[0] == 0 and 0 < heights[1] < 1 and heights[2] == 174  # the plot's full height
    assert "<rect" not in str(bar_chart([], title="t", top_label="0"))


def test_chart_text_is_escaped() -> None:
    hostile = '<script>alert(1)</script>"&'
    drawn = str(bar_chart([Bar(hostile, 5, hostile, 50)], title=hostile, top_label=hostile, rate_label=hostile))
    drawn += str(rate_bars([(hostile, 40, hostile)], title=hostile))
    assert "<script>" not in drawn and '</script>"&' not in drawn and "&lt;/script&gt;&#34;&amp;" in drawn
    assert drawn.count("<svg") == 2 and drawn.count("</svg>") == 2
