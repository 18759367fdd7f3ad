"""The periodic jobs: cancel expired payments, ask connectors about silent attempts, payouts and refunds, purge
old idempotency keys. Each is safe to run in any number of processes at once: expiry is one guarded UPDATE,
reconciliation claims its attempts, payouts and refunds with a lease, the purge is one DELETE."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from cauri.services import checkout, payments, payouts, refunds, users
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
        callback_base=settings.internal_url,
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
    if dispatch:
        tasks += [Dispatcher(runtime).run_forever, Mailer(runtime).run_forever]
    return tasks
