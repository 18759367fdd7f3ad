"""What every request handler shares: settings, the database engine, and per-process caches."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from cauri.api.auth import KeyCache, RateLimiter
from cauri.settings import Settings


@dataclass
class Gateway:
    settings: Settings
    engine: AsyncEngine
    keys: KeyCache
    limiter: RateLimiter = field(default_factory=RateLimiter)
    #: For single-statement reads: autocommit spares PostgreSQL a BEGIN and a ROLLBACK round trip each.
    reader: AsyncEngine = field(init=False)

    def __post_init__(self) -> None:
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def public_url(self) -> str:
        return self.settings.resolved_public_url

    def checkout_url(self, payment_id: str) -> str:
        return f"{self.public_url}/checkout/{payment_id}"


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway
