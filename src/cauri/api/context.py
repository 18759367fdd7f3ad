"""What every request handler shares: the runtime (settings, units of work, connectors) and per-process
caches."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from cauri.api.auth import FailureThrottle, KeyCache, RateLimiter
from cauri.checkout.security import SlidingWindow
from cauri.services.apps import KeyUsage
from cauri.services.runtime import Runtime, UnitOfWork
from cauri.settings import Settings


@dataclass
class Gateway:
    runtime: Runtime
    keys: KeyCache
    limiter: RateLimiter = field(default_factory=RateLimiter)
    #: Failed authentications per client address (unknown, expired or revoked keys).
    auth_failures: FailureThrottle = field(default_factory=lambda: FailureThrottle(limit=20))
    #: Attempt creation per customer address: enough for honest retries, too few to hammer a provider.
    attempts_per_client: SlidingWindow = field(default_factory=lambda: SlidingWindow(limit=20, seconds=600))
    #: When each key was last used, written at most once a minute per key.
    key_usage: KeyUsage = field(default_factory=KeyUsage)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def public_url(self) -> str:
        return self.runtime.public_url

    def uow(self) -> UnitOfWork:
        return self.runtime.uow()


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway
