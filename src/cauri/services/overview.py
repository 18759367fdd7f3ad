"""The dashboard's overview of one app and environment: today's and the month's volume and success per
currency, success per method, the last 30 days day by day, and what needs looking at (failing webhook
endpoints, attempts a provider went silent about)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cauri.domain.charts import BarChart, bar_chart, success_rate
from cauri.domain.clock import as_utc, utcnow
from cauri.domain.errors import NotFound
from cauri.services.runtime import UnitOfWork
from cauri.services.users import Session

DAYS = 30
#: An attempt still pending this long after it started is flagged (the reconciliation job asks after 2 min).
STUCK_AFTER = timedelta(minutes=15)
#: Endpoints whose deliveries succeed less often than this are flagged.
FAILING_BELOW = 90


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    currency: str
    today_volume: int
    today_paid: int
    today_rate: int | None
    month_volume: int
    month_paid: int
    month_rate: int | None
    chart: BarChart  # paid volume per day, the last 30 days


@dataclass(frozen=True, slots=True)
class MethodTotals:
    method: str
    attempts: int
    succeeded: int
    rate: int | None


@dataclass(frozen=True, slots=True)
class Flag:
    kind: str  # endpoint, attempt
    subject: str
    detail: str
    since: datetime | None


@dataclass(frozen=True, slots=True)
class Overview:
    currencies: list[CurrencyTotals]
    methods: list[MethodTotals]
    flags: list[Flag]


async def overview(uow: UnitOfWork, session: Session, app_id: str, environment: str) -> Overview:
    if app_id not in session.app_ids:
        raise NotFound("App not found.")
    now = utcnow()
    today = now.date()
    month_start = today.replace(day=1)
    first_day = min(month_start, today - timedelta(days=DAYS - 1))
    since = datetime.combine(first_day, time.min, UTC)
    async with uow.reading():
        rows = await uow.dashboard.totals(app_id, environment, since)
        methods = await uow.dashboard.method_totals(app_id, environment, datetime.combine(month_start, time.min, UTC))
        stuck = await uow.dashboard.stuck_attempts(app_id, environment, now - STUCK_AFTER, 10)
        endpoints = [r for r in await uow.webhooks.list_endpoints(app_id, environment) if r.is_enabled]
        counts = await uow.dashboard.delivery_counts([r.id for r in endpoints])
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    currencies = []
    for currency in sorted({r.currency for r in rows}):
        mine = [r for r in rows if r.currency == currency]
        by_day = {date.fromisoformat(r.day): r for r in mine}
        in_month = [r for d, r in by_day.items() if d >= month_start]
        now_row = by_day.get(today)
        currencies.append(
            CurrencyTotals(
                currency,
                int(now_row.volume or 0) if now_row else 0,
                int(now_row.paid or 0) if now_row else 0,
                success_rate(int(now_row.paid or 0), int(now_row.ended or 0)) if now_row else None,
                sum(int(r.volume or 0) for r in in_month),
                sum(int(r.paid or 0) for r in in_month),
                success_rate(sum(int(r.paid or 0) for r in in_month), sum(int(r.ended or 0) for r in in_month)),
                bar_chart([(d.strftime("%d"), int(by_day[d].volume or 0) if d in by_day else 0) for d in days]),
            )
        )
    method_lines = sorted((_method(r.method, int(r.attempts), int(r.succeeded or 0), int(r.failed or 0))
                           for r in methods), key=lambda m: -m.attempts)  # fmt: skip
    flags = []
    for endpoint in endpoints:
        delivered, failed = (
            counts.get(endpoint.id, {}).get("delivered", 0),
            counts.get(endpoint.id, {}).get("failed", 0),
        )
        rate = success_rate(delivered, delivered + failed)
        if rate is not None and rate < FAILING_BELOW:
            flags.append(Flag("endpoint", endpoint.url, f"{rate} %", None))
    flags += [Flag("attempt", a.payment_id, f"{a.method} · {a.connector}", as_utc(a.created_at)) for a in stuck]
    return Overview(currencies, method_lines, flags)


def _method(method: str, attempts: int, succeeded: int, failed: int) -> MethodTotals:
    return MethodTotals(method, attempts, succeeded, success_rate(succeeded, succeeded + failed))
