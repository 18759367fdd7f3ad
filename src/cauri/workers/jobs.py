"""The periodic jobs: cancel expired payments, ask connectors about silent attempts, payouts and refunds, purge
old idempotency keys. Each is safe to run in any number of processes at once: expiry is one guarded UPDATE,
reconciliation claims its attempts, payouts and refunds with a lease, the purge is one DELETE."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

import httpx
import orjson

from cauri.domain.rates import FEED_MAX_BYTES, FeedError
from cauri.services import checkout, payments, payouts, rates, refunds, users
from cauri.services.runtime import Runtime

log = logging.getLogger("cauri.workers.jobs")
PURGE_EVERY_SECONDS = 3600.0


async def expire(runtime: Runtime) -> None:
    expired = await checkout.expire_payments(runtime.uow())
    if expired:
        log.info("expired unpaid payments", extra={"count": expired})


async def reconcile(runtime: Runtime) -> None:
    settings = runtime.settings
    applied = await checkout.reconcile(
        runtime.uow(),
        runtime.connectors,
        older_than=timedelta(seconds=settings.reconcile_after_seconds),
        lease=timedelta(seconds=settings.reconcile_lease_seconds),
    )
    if applied:
        log.info("reconciled attempts", extra={"count": applied})


#: The reconciliation of money going out: payouts and refunds take the same arguments.
ReconcileOut = Callable[..., Awaitable[int]]


async def reconcile_out(runtime: Runtime, reconcile: ReconcileOut, what: str) -> None:
    """Send what a dead process never handed over, and ask connectors about what is still pending."""
    settings = runtime.settings
    changed = await reconcile(
        runtime.uow(),
        runtime.connectors,
        older_than=timedelta(seconds=settings.reconcile_after_seconds),
        lease=timedelta(seconds=settings.reconcile_lease_seconds),
        callback_base=runtime.callbacks,
    )
    if changed:
        log.info(f"reconciled {what}", extra={"count": changed})


async def purge(runtime: Runtime) -> None:
    removed = await payments.purge_idempotency_keys(runtime.uow())
    if removed:
        log.info("purged expired idempotency keys", extra={"count": removed})
    ended = await users.purge_ended(runtime.uow(), runtime.settings)
    if ended:
        log.info("purged ended dashboard sessions and old failed logins", extra={"count": ended})


#: A rates feed answers within this or not at all this round.
FEED_TIMEOUT_SECONDS = 10.0


async def refresh_rates(runtime: Runtime, client: httpx.AsyncClient | None = None) -> None:
    """Fetch ``CAURI_RATES_FEED_URL`` (bounded in time and size) and store its rates, when they are due."""
    settings = runtime.settings
    if not settings.rates_feed_url:
        return
    if not await rates.feed_due(runtime.uow(), timedelta(seconds=settings.rates_feed_every_seconds)):
        return
    try:
        body = await _fetch_feed(settings.rates_feed_url, client)
        stored = await rates.store_feed(runtime.uow(), orjson.loads(body))
    except (httpx.HTTPError, FeedError, orjson.JSONDecodeError) as exc:
        log.warning("rates feed refused", extra={"error": str(exc)[:200]})
        return
    log.info("rates feed stored", extra={"count": len(stored)})


async def _fetch_feed(url: str, client: httpx.AsyncClient | None) -> bytes:
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=FEED_TIMEOUT_SECONDS))
        async with client.stream("GET", url, headers={"Accept": "application/json"}, follow_redirects=False) as answer:
            answer.raise_for_status()
            body = bytearray()
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > FEED_MAX_BYTES:
                    raise FeedError(f"the document is larger than {FEED_MAX_BYTES} bytes")
            return bytes(body)
    raise AssertionError("unreachable")  # pragma: no cover


async def every(seconds: float, job: Callable[[], Awaitable[None]], name: str) -> None:
    """Run ``job`` now and then every ``seconds``; a failure is logged, and the next round comes anyway."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("job failed", extra={"job": name})
        await asyncio.sleep(seconds)


def background_tasks(runtime: Runtime, *, dispatch: bool) -> list[Callable[[], Coroutine[Any, Any, None]]]:
    """Everything a process runs besides serving: the jobs, and the dispatcher and mailer if ``dispatch``."""
    from cauri.workers.dispatcher import Dispatcher
    from cauri.workers.mail import Mailer

    settings = runtime.settings
    tasks: list[Callable[[], Coroutine[Any, Any, None]]] = [
        lambda: every(settings.reconcile_every_seconds, lambda: expire(runtime), "expiry"),
        lambda: every(settings.reconcile_every_seconds, lambda: reconcile(runtime), "reconciliation"),
        lambda: every(
            settings.reconcile_every_seconds,
            lambda: reconcile_out(runtime, payouts.reconcile_payouts, "payouts"),
            "payout reconciliation",
        ),
        lambda: every(
            settings.reconcile_every_seconds,
            lambda: reconcile_out(runtime, refunds.reconcile_refunds, "refunds"),
            "refund reconciliation",
        ),
        lambda: every(PURGE_EVERY_SECONDS, lambda: purge(runtime), "purge"),
    ]
    if settings.rates_feed_url:
        # Checked often, fetched only when the stored feed rates are due (see services.rates.feed_due).
        period = min(settings.rates_feed_every_seconds, settings.reconcile_every_seconds)
        tasks.append(lambda: every(period, lambda: refresh_rates(runtime), "rates feed"))
    if dispatch:
        tasks += [Dispatcher(runtime).run_forever, Mailer(runtime).run_forever]
    return tasks
