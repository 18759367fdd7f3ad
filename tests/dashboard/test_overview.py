"""The overview: volume and success per currency and method, a chart per currency, and what is flagged."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain.charts import bar_chart
from cauri.domain.clock import utcnow
from cauri.store.tables import deliveries, webhook_endpoints
from tests.api.test_refunds import paid_payment
from tests.conftest import MerchantApp, record_attempt
from tests.dashboard.conftest import User, log_in
from tests.dashboard.test_pages import pay_in


def test_bars_scale_to_the_largest_and_a_small_value_still_shows() -> None:
    chart = bar_chart([("01", 0), ("02", 1), ("03", 1000)], width=300, height=116)
    assert [b.height for b in chart.bars] == [0.0, 1.0, 100.0] and chart.top == 1000
    assert all(b.y + b.height == 100 for b in chart.bars)
    assert bar_chart([]).bars == [] and bar_chart([("a", 0)]).bars[0].height == 0


async def test_the_overview_adds_up_and_flags_what_needs_a_look(
    browser_client: httpx.AsyncClient, engine: AsyncEngine, merchant: MerchantApp, owner: User
) -> None:
    await browser_client.post("/v1/webhooks", json={"url": "https://example.com/hook"}, headers=merchant.headers)
    await paid_payment(browser_client, engine, merchant, amount=700)
    await paid_payment(browser_client, engine, merchant, amount=300)
    silent = await pay_in(browser_client, merchant)
    old = utcnow() - timedelta(hours=1)
    await record_attempt(engine, {
        "id": "att_" + silent[3:], "payment_id": silent, "method": "moov_bj", "connector": "sandbox",
        "status": "pending", "phone": "4149518161", "card_last4": None, "provider_reference": None,
        "next_action": None, "failure_code": None, "failure_message": None, "client_ip": "127.0.0.1",
        "user_agent": "test", "locale": "fr", "created_at": old, "updated_at": old, "completed_at": None,
    })  # fmt: skip
    await log_in(browser_client, owner)
    page = await browser_client.get(f"/dashboard/overview?app={merchant.id}&lang=en")
    assert page.status_code == 200
    assert "F\u202fCFA\xa01,000" in page.text  # today's paid volume: 700 + 300
    assert "2 paid · 100 % success" in page.text  # the open payment has not ended: it does not count against
    assert page.text.count('class="bar"/>') == 30  # a bar per day
    assert "mtn_bj" in page.text and "Attempt pending for a long time" in page.text and silent in page.text
    assert "Webhook endpoint failing" not in page.text
    async with engine.begin() as conn:
        mine = select(webhook_endpoints.c.id).where(webhook_endpoints.c.app_id == merchant.id)
        await conn.execute(deliveries.update().where(deliveries.c.endpoint_id.in_(mine)).values(status="failed"))
    flagged = await browser_client.get(f"/dashboard/overview?app={merchant.id}&lang=en")
    assert "Webhook endpoint failing" in flagged.text and "https://example.com/hook" in flagged.text
