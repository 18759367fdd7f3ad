"""Operations: ``/healthz`` (the process answers), ``/readyz`` (it can serve), ``/metrics`` (Prometheus).

None needs an API key; every answer is ``Cache-Control: no-store`` so that no proxy serves a stale verdict.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from typing import Any

import orjson
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri import __version__, metrics
from cauri.api.auth import bearer_matches
from cauri.api.context import gateway_of
from cauri.api.errors import ApiError
from cauri.services.health import check_readiness, outbox_backlog_now
from cauri.settings import Settings

log = logging.getLogger("cauri.health")
NO_STORE = {"Cache-Control": "no-store"}


def _json(body: dict[str, Any], status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json", headers=NO_STORE)


async def healthz(_request: Request) -> Response:
    """Alive: answered by the event loop, without the database (a database outage is /readyz's business)."""
    return _json({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    gateway = gateway_of(request)
    readiness = await check_readiness(gateway.uow(), gateway.settings.health_timeout_seconds)
    body: dict[str, Any] = {
        "status": "ready" if readiness.ready else "unavailable",
        "database_revision": readiness.database_revision,
        "code_revision": readiness.code_revision,
    }
    if readiness.reason:
        body["reason"] = readiness.reason
    return _json(body, 200 if readiness.ready else 503)


async def scrape(request: Request) -> Response:
    gateway = gateway_of(request)
    token = gateway.settings.metrics_token
    if token and not bearer_matches(request.headers.get("authorization", ""), token):
        raise ApiError(401, "The metrics need a valid bearer token.", {"WWW-Authenticate": "Bearer", **NO_STORE})
    try:
        backlog = await outbox_backlog_now(gateway.uow(), gateway.settings.health_timeout_seconds)
        metrics.set_backlog(
            pending_deliveries=backlog.pending_deliveries,
            pending_emails=backlog.pending_emails,
            oldest_pending_age_seconds=backlog.oldest_pending_age_seconds,
            oldest_due_lag_seconds=backlog.oldest_due_lag_seconds,
        )
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        # The counters are still worth a scrape; unknown gauges say so rather than repeat an old value.
        log.warning("metrics: backlog unavailable", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
        metrics.set_backlog(
            pending_deliveries=math.nan,
            pending_emails=math.nan,
            oldest_pending_age_seconds=math.nan,
            oldest_due_lag_seconds=math.nan,
        )
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE, headers=NO_STORE)


def routes(settings: Settings) -> list[Route]:
    """Health routes always; ``/metrics`` only when enabled (otherwise it is a plain 404)."""
    found = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
    if settings.metrics_enabled:
        found.append(Route("/metrics", scrape, methods=["GET"]))
        if not settings.metrics_token and not _is_loopback(settings.host):
            log.warning("metrics are served without a token on a non-loopback address: set CAURI_METRICS_TOKEN")
    return found


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
