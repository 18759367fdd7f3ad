"""The dashboard's overview of one app in one environment: today's and the month's payments per currency, per
method and per day, the webhook endpoints that fail, and the attempts stuck in pending."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cauri.domain.clock import as_utc, utcnow
from cauri.domain.errors import NotFound
from cauri.domain.overview import Figures, Period, month_days, today_and_month
from cauri.domain.payments import Environment
from cauri.services import developers
from cauri.services.developers import EndpointSummary
from cauri.services.runtime import UnitOfWork
from cauri.services.users import Session

#: At most this many stuck attempts are listed (the count says if there are more).
STUCK_LIMIT = 50


@dataclass(frozen=True, slots=True)
class StuckAttempt:
    id: str
    payment_id: str
    method: str
    connector: str
    started_at: datetime
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    by_currency: dict[str, Figures]
    by_method: dict[tuple[str, str], Figures]  # (method, currency)


@dataclass(frozen=True, slots=True)
class Overview:
    environment: str
    now: datetime
    today: PeriodFigures
    month: PeriodFigures
    #: currency -> one Figures per day of the month so far (zeros on days without payments)
    days: dict[str, list[tuple[date, Figures]]]
    failing_endpoints: list[EndpointSummary]
    stuck: list[StuckAttempt]
    stuck_minutes: int


def _figures(row: tuple[object, ...]) -> Figures:
    count, succeeded, volume = row[-3:]
    return Figures(int(count), int(succeeded), int(volume))  # type: ignore[call-overload]


async def _period(uow: UnitOfWork, app_id: str, environment: str, period: Period) -> PeriodFigures:
    currencies = await uow.overview.by_currency(app_id, environment, period.start, period.end)
    methods = await uow.overview.by_method(app_id, environment, period.start, period.end)
    return PeriodFigures(
        {r[0]: _figures(tuple(r)) for r in currencies}, {(r[0], r[1]): _figures(tuple(r)) for r in methods}
    )


async def overview(
    uow: UnitOfWork, session: Session, app_id: str, environment: str, stuck_minutes: int, *, now: datetime | None = None
) -> Overview:
    if app_id not in session.app_ids:
        raise NotFound("App not found.")
    env = (Environment.LIVE if environment == "live" else Environment.SANDBOX).value
    now = now or utcnow()
    today, month = today_and_month(now)
    async with uow.reading():
        today_figures = await _period(uow, app_id, env, today)
        month_figures = await _period(uow, app_id, env, month)
        daily = await uow.overview.by_day(app_id, env, month.start, month.end)
        stuck_rows = await uow.overview.stuck_attempts(app_id, env, now - timedelta(minutes=stuck_minutes),
                                                       limit=STUCK_LIMIT)  # fmt: skip
    by_day: dict[str, dict[str, Figures]] = {}
    for r in daily:
        by_day.setdefault(r[1], {})[str(r[0])] = _figures(tuple(r))
    days = {
        currency: [(d, figures.get(d.isoformat(), Figures(0, 0, 0))) for d in month_days(now)]
        for currency, figures in sorted(by_day.items())
    }
    hooks = await developers.endpoints(uow, session, app_id, env)
    stuck = [StuckAttempt(r.id, r.payment_id, r.method, r.connector, as_utc(r.created_at), r.amount, r.currency)
             for r in stuck_rows]  # fmt: skip
    return Overview(env, now, today_figures, month_figures, days, [h for h in hooks if h.failing], stuck,
                    stuck_minutes)  # fmt: skip
