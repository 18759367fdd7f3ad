"""Time as the store keeps it (see ``cauri.domain.clock``)."""

from cauri.domain.clock import as_utc, iso, utcnow

__all__ = ["as_utc", "iso", "utcnow"]
