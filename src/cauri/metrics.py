"""Every Prometheus series the gateway exports, and the small typed functions that move them.

Callers never touch ``prometheus_client`` themselves: they call ``count_attempt``, ``count_delivery``… so the
names, labels and buckets live here only. Labels take values from small fixed sets (route templates, catalogue
method codes, outcomes) so that the number of series stays bounded whatever the traffic.

With several server processes (``cauri serve --workers N``) each process counts on its own; when
``PROMETHEUS_MULTIPROC_DIR`` is set (``cauri serve`` sets it for more than one worker), prometheus_client keeps
the values in files there and ``exposition`` adds up every process's, whichever process answers the scrape.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from functools import lru_cache
from typing import Final, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import Scope

DeliveryOutcome = Literal["delivered", "retry", "failed"]
EmailOutcome = Literal["sent", "retry", "failed"]
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The label of requests no route matched (scanners, typos): one series, not one per path.
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_CONVERTOR = re.compile(r"\{(\w+):\w+\}")

# The "_created" twin of every series doubles a scrape for a timestamp Prometheus itself does not use.
disable_created_metrics()  # type: ignore[no-untyped-call]

REQUESTS = Counter(
    "cauri_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
INITIALIZE_SECONDS = Histogram(
    "cauri_initialize_seconds",
    "Time to answer a successful POST /v1/payments/initialize (authentication to response).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ATTEMPTS = Counter(
    "cauri_attempts", "Payment attempts that ended, by method and outcome (success, failed).", ["method", "outcome"]
)
DELIVERIES = Counter(
    "cauri_webhook_deliveries",
    "Webhook sends, by outcome: delivered, retry (to be tried again) or failed (given up).",
    ["outcome"],
)
EMAILS = Counter("cauri_emails", "Email sends, by outcome: sent, retry or failed.", ["outcome"])
# Set at scrape time from the database; "mostrecent" so that, across processes, the scraping one's value wins.
_LATEST: Final = "mostrecent"
PENDING_DELIVERIES = Gauge(
    "cauri_outbox_pending_deliveries",
    "Webhook deliveries not yet delivered nor given up.",
    multiprocess_mode=_LATEST,
)
PENDING_EMAILS = Gauge("cauri_outbox_pending_emails", "Emails not yet sent nor given up.", multiprocess_mode=_LATEST)
OLDEST_PENDING_AGE = Gauge(
    "cauri_outbox_oldest_pending_delivery_age_seconds",
    "Age of the oldest pending webhook delivery (0 when none): grows while an endpoint is down or sending lags.",
    multiprocess_mode=_LATEST,
)
OLDEST_DUE_LAG = Gauge(
    "cauri_outbox_oldest_due_delivery_lag_seconds",
    "How long the most overdue pending delivery has been due (0 when none): grows when no dispatcher runs.",
    multiprocess_mode=_LATEST,
)

# Known outcomes start at 0, so that rate() and alerts see the series before the first event.
for _outcome in ("delivered", "retry", "failed"):
    DELIVERIES.labels(_outcome)
for _outcome in ("sent", "retry", "failed"):
    EMAILS.labels(_outcome)


def observe_initialize(seconds: float) -> None:
    INITIALIZE_SECONDS.observe(seconds)


def count_attempt(method: str, outcome: str) -> None:
    """``method`` is a catalogue code and ``outcome`` an attempt's final status: both from fixed sets."""
    ATTEMPTS.labels(method, outcome).inc()


def count_delivery(outcome: DeliveryOutcome) -> None:
    DELIVERIES.labels(outcome).inc()


def count_email(outcome: EmailOutcome) -> None:
    EMAILS.labels(outcome).inc()


def set_backlog(
    *,
    pending_deliveries: float,
    pending_emails: float,
    oldest_pending_age_seconds: float,
    oldest_due_lag_seconds: float,
) -> None:
    """Called by the scrape with what the database says now (NaN for unknown, when it cannot say)."""
    PENDING_DELIVERIES.set(pending_deliveries)
    PENDING_EMAILS.set(pending_emails)
    OLDEST_PENDING_AGE.set(oldest_pending_age_seconds)
    OLDEST_DUE_LAG.set(oldest_due_lag_seconds)


def exposition() -> bytes:
    """The text format Prometheus scrapes: this process's registry, or every process's in multiprocess mode."""
    if os.environ.get(_MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


def share_across(workers: int) -> None:
    """Before starting a server of ``workers`` processes: give them one fresh directory their counts are added up
    from, removed when this process exits (an existing ``PROMETHEUS_MULTIPROC_DIR`` is kept, and left to whoever
    set it). The processes inherit it when spawned."""
    if workers <= 1 or os.environ.get(_MULTIPROCESS_ENV):
        return
    directory = tempfile.mkdtemp(prefix="cauri-metrics-")
    os.environ[_MULTIPROCESS_ENV] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)


#: Each (route, method, status) child, looked up once: ``labels()`` costs a lock and a few µs per request.
#: Bounded like the series themselves: routes, the methods of ``_METHODS`` (others are "OTHER"), statuses.
_request_counters: dict[tuple[str | None, str, int], Counter] = {}


@lru_cache(maxsize=256)
def route_label(path: str | None) -> str:
    """A route's template as people write it (``/v1/payments/{payment_id}/verify``, convertors dropped), or
    ``unmatched``."""
    return _CONVERTOR.sub(r"{\1}", path) if path else UNMATCHED


def count_request(scope: Scope, status: int) -> None:
    """Count an HTTP request by the template of the route that answered it (``scope["route"]``, set by
    Starlette's router), never the raw path; called by the request log middleware once the answer is sent."""
    method = scope["method"] if scope["method"] in _METHODS else "OTHER"
    key = (getattr(scope.get("route"), "path", None), method, status)
    counter = _request_counters.get(key)
    if counter is None:
        counter = _request_counters[key] = REQUESTS.labels(route_label(key[0]), method, str(status))
    counter.inc()
