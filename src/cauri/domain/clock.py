"""Time as Cauri keeps it: timezone-aware UTC, whatever the database hands back, and Moneroo's format."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes for what was written as UTC; PostgreSQL returns aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """Moneroo's timestamp format: ``2024-01-31T14:46:13.000000Z``."""
    if value is None:
        return None
    # isoformat is several times faster than strftime, and this runs for every timestamp of every answer; a
    # moment in UTC already (most are) is formatted as it is, its "+00:00" made "Z".
    if value.tzinfo is UTC:
        return value.isoformat(timespec="microseconds")[:-6] + "Z"
    return as_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
