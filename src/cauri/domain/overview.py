"""The overview's figures: payments counted, succeeded and summed (integers, in the currency's minor unit as
everywhere), their success rate, and the span of days a month's chart covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cauri.domain.errors import FieldErrors, ValidationFailed

#: An attempt pending for longer than this many minutes is flagged as stuck, unless the page asks otherwise.
STUCK_MINUTES = 30
STUCK_MINUTES_MAX = 7 * 24 * 60


def success_rate(succeeded: int, total: int) -> int | None:
    """Whole percent, rounded half up, with integers only; None when there is nothing to rate."""
    if total <= 0:
        return None
    return (200 * succeeded + total) // (2 * total)


@dataclass(frozen=True, slots=True)
class Figures:
    count: int  # payments (attempts, for a method)
    succeeded: int
    volume: int  # of the succeeded, minor units

    @property
    def rate(self) -> int | None:
        return success_rate(self.succeeded, self.count)


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC: today, or the month up to now."""

    start: datetime
    end: datetime


def today_and_month(now: datetime) -> tuple[Period, Period]:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return Period(day, day + timedelta(days=1)), Period(day.replace(day=1), day + timedelta(days=1))


def month_days(now: datetime) -> list[date]:
    """Every day of the month so far, the first to today."""
    first = now.date().replace(day=1)
    return [first + timedelta(days=n) for n in range((now.date() - first).days + 1)]


def stuck_minutes(raw: str | None) -> int:
    """The page's ``stuck`` query: whole minutes, 1 to a week; blank for the default."""
    if raw is None or not raw.strip():
        return STUCK_MINUTES
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) < 6 and 1 <= int(text) <= STUCK_MINUTES_MAX:
        return int(text)
    raise ValidationFailed(FieldErrors({"stuck": [f"The stuck field must be 1 to {STUCK_MINUTES_MAX} minutes."]}))
