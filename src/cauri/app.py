"""Builds the ASGI application from settings."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from cauri import __version__
from cauri.api import (
    balances,
    docs,
    events,
    health,
    payments,
    payouts,
    providers,
    rates,
    refunds,
    utilities,
    webhooks,
)
from cauri.api.auth import FailureThrottle, KeyCache
from cauri.api.context import Gateway
from cauri.api.envelope import EnvelopeResponse
from cauri.api.errors import ApiError, api_error, client_gone, domain_error, http_error, server_error
from cauri.api.forwarded import ForwardedHeaders, TrustedProxies
from cauri.api.hot_path import HotPath
from cauri.api.request_log import RequestLog
from cauri.api.response_headers import SecurityHeaders
from cauri.checkout import routes as checkout
from cauri.dashboard import developers as dashboard_developers
from cauri.dashboard import overview as dashboard_overview
from cauri.dashboard import routes as dashboard
from cauri.domain.errors import DomainError
from cauri.logs import configure_logging
from cauri.services.runtime import create_runtime
from cauri.settings import Settings, parse_networks
from cauri.workers.jobs import background_tasks

log = logging.getLogger("cauri")


async def index(request: Request) -> Response:
    base = request.app.state.gateway.settings.resolved_public_url
    return EnvelopeResponse(
        "Cauri payment gateway",
        {"version": __version__, "api_url": f"{base}/v1", "docs_url": f"{base}/docs"},
    )


class GatewayApp(Starlette):
    """Starlette, with the layers that must see every answer placed outside its server-error handler (which
    answers an unhandled exception beyond the reach of ordinary middleware): the forwarded headers, read
    first, then the request log, which adds the request id and the security headers, so a 500 carries them
    too; then the hot path's own door (``hot_path.py``), then Starlette's."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.gateway.settings
        headers = SecurityHeaders(hsts_seconds=settings.hsts_seconds, public_https=settings.public_https)
        hot = HotPath(super().build_middleware_stack(), payments.HOT_ROUTES, self.exception_handlers)
        app = RequestLog(hot, headers=headers, count_requests=settings.metrics_enabled)
        trusted = TrustedProxies(parse_networks(settings.trusted_proxies))
        # Without trusted proxies the layer would only pass every request through: leave it out.
        return ForwardedHeaders(app, trusted=trusted) if trusted.networks else app


#: How many container allocations (net of frees) start a collection of the youngest generation, in served apps.
YOUNG_GENERATION_THRESHOLD = 20_000


def serve_app() -> Starlette:
    """The app ``cauri serve`` runs in each server process: the process is the app's alone, so its startup heap
    is frozen (kept out of garbage collection) once the app has started, and its youngest generation collected
    less often."""
    return create_app(freeze_heap=True)


def create_app(
    settings: Settings | None = None, engine: AsyncEngine | None = None, *, freeze_heap: bool = False
) -> Starlette:
    """The gateway's ASGI app. Migrations are not run here: ``cauri serve`` runs them once before its workers
    start."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    runtime = create_runtime(settings, engine)
    gateway = Gateway(
        runtime=runtime,
        keys=KeyCache(ttl=settings.key_cache_seconds),
        auth_failures=FailureThrottle(limit=settings.auth_failures_per_minute),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        jobs = background_tasks(runtime, dispatch=settings.dispatcher_in_serve)
        tasks = [asyncio.create_task(job()) for job in jobs]
        if freeze_heap:
            # Everything loaded by now (modules, the app, the engine) lives as long as the process: moved out of
            # the collector's generations, so a collection under load walks only what requests left behind
            # (walking it all stalled every request in flight for tens of milliseconds: the peak's p99).
            gc.collect()
            gc.freeze()
            # A request leaves a few hundred containers behind for reference counting to free: at the default
            # threshold (700) the youngest generation was walked every few requests. 20,000: +4 to +6.5 % payments a
            # second on SQLite, no change on PostgreSQL (bench/README.md), for a few MB more of garbage at most.
            gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # A key's "last used" write still under way finishes before the engine goes: cut short, its connection
            # could keep a write transaction (and SQLite's write lock) open after the loop is gone.
            await gateway.key_usage.settle()
            await gateway.keys.settle()  # likewise a key's lookup (a refresh nobody waits for)
            await runtime.close()

    routes = [
        Route("/", index, methods=["GET"]),
        *payments.routes,
        *payouts.routes,
        *refunds.routes,
        *balances.routes,
        *rates.routes,
        *webhooks.routes,
        *providers.routes,
        *events.routes,
        *utilities.routes,
        *docs.routes,
        *checkout.routes,
        *dashboard.routes,
        *dashboard_developers.routes,
        *dashboard_overview.routes,
        *health.routes(settings),
    ]
    app = GatewayApp(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ApiError: api_error,
            DomainError: domain_error,
            HTTPException: http_error,
            ClientDisconnect: client_gone,
            DBAPIError: server_error,
            Exception: server_error,
        },
    )
    app.state.gateway = gateway
    return app
