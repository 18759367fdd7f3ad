"""The webhook dispatcher: claims due deliveries, sends them signed, records every try, retries with backoff.

Any number of dispatchers (inside ``cauri serve`` or as ``cauri worker``) share one database: a delivery is
claimed with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), so two never send it at the same time, and a
dead worker's claims return to the pool when their lease ends. Sending is at least once: receivers dedupe on
``webhook-id``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

import httpx

from cauri import metrics
from cauri.domain.clock import utcnow
from cauri.domain.webhooks import body_bytes, is_public_address, moneroo_signature, retry_delay, standard_signature
from cauri.services import webhooks
from cauri.services.runtime import Runtime
from cauri.services.webhooks import Claim, TryResult, unseal_secret
from cauri.settings import Settings

log = logging.getLogger("cauri.workers.dispatcher")
EXCERPT_BYTES = 1024
POOL_CONNECTIONS = 16


class UnsafeTarget(Exception):
    """The URL resolves to an address a live webhook may not reach (loopback, private, link-local…)."""


async def check_target(url: str) -> None:
    """Resolve the host now (not only at registration: DNS can change) and refuse non-public addresses."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeTarget(f"cannot resolve {host}") from exc
    for info in infos:
        if not is_public_address(str(info[4][0])):
            raise UnsafeTarget(f"{host} resolves to a non-public address")


class Dispatcher:
    """Sends webhooks. Emails have their own loop (``workers.mail.Mailer``): a slow SMTP server never holds
    webhooks back."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        settings = runtime.settings
        # A small pool: httpcore scans every pooled connection for every request, so a large pool costs more
        # CPU than the parallelism it buys (bench/webhooks.py: 64 connections 362/s, 16: 563/s, 8: 773/s).
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": "Cauri-Webhooks/1"},
            limits=httpx.Limits(max_connections=POOL_CONNECTIONS, max_keepalive_connections=POOL_CONNECTIONS),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def run_once(self) -> int:
        """Send what is due now; returns how many deliveries were tried."""
        lease = utcnow() + timedelta(seconds=self.settings.dispatcher_lease_seconds)
        claims = await webhooks.claim_deliveries(self.runtime.uow(), lease, self.settings.dispatcher_batch)
        results = await asyncio.gather(*(self.deliver(claim) for claim in claims))
        await webhooks.record_tries(self.runtime.uow(), results)
        return len(claims)

    async def run_forever(self) -> None:
        """Keep up to ``dispatcher_batch`` webhooks in flight, claiming more as each one ends, so that a slow
        endpoint holds one slot (until its timeout), not a whole batch; results are recorded in batches."""
        try:
            await self._run_forever()
        finally:
            await self.close()

    async def _run_forever(self) -> None:
        inflight: set[asyncio.Task[TryResult]] = set()
        while True:
            try:
                free = self.settings.dispatcher_batch - len(inflight)
                claims: list[Claim] = []
                # Claim in chunks (half the slots free, or none in flight), not one query per finished send.
                if free >= max(1, self.settings.dispatcher_batch // 2) or not inflight:
                    lease = utcnow() + timedelta(seconds=self.settings.dispatcher_lease_seconds)
                    claims = await webhooks.claim_deliveries(self.runtime.uow(), lease, free)
                    inflight.update(asyncio.create_task(self.deliver(claim)) for claim in claims)
                if inflight:
                    done, inflight = await asyncio.wait(
                        inflight, timeout=self.settings.dispatcher_poll_seconds, return_when=asyncio.FIRST_COMPLETED
                    )
                    await webhooks.record_tries(self.runtime.uow(), [t.result() for t in done])
                elif not claims:
                    await asyncio.sleep(self.settings.dispatcher_poll_seconds)
            except Exception:
                log.exception("dispatcher pass failed")
                await asyncio.sleep(self.settings.dispatcher_poll_seconds)

    async def deliver(self, claim: Claim) -> TryResult:
        """One try, always recorded and counted: whatever goes wrong (a network error, an unsafe target, a
        secret that cannot sign) becomes its error, so a delivery cannot be retried past its last try."""
        started = time.perf_counter()
        status_code: int | None = None
        excerpt = error = None
        try:
            status_code, excerpt = await self._send(claim)
        except (httpx.HTTPError, UnsafeTarget) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            log.exception("delivery failed unexpectedly", extra={"delivery_id": claim.delivery_id})
            error = f"{type(exc).__name__}: {exc}"
        latency = int((time.perf_counter() - started) * 1000)
        if status_code is not None and 200 <= status_code < 300:  # a redirect is not a receipt
            outcome, next_at = "delivered", None
        else:
            delay = retry_delay(claim.attempts, self.settings.webhook_retry_scale)
            outcome, next_at = ("pending", utcnow() + delay) if delay is not None else ("failed", None)
        metrics.count_delivery("retry" if outcome == "pending" else "delivered" if outcome == "delivered" else "failed")
        return TryResult(claim, status_code, latency, excerpt, error and error[:500], outcome, next_at)

    async def _send(self, claim: Claim) -> tuple[int, str]:
        body = body_bytes(claim.event_type, claim.data)
        secret = unseal_secret(self.settings.secret, claim)
        stamp = int(time.time())  # the signature covers this try's time, not the event's
        headers = {
            "Content-Type": "application/json",
            "X-Moneroo-Signature": moneroo_signature(secret, body),
            "webhook-id": claim.event_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": standard_signature(secret, claim.event_id, stamp, body),
        }
        if claim.environment == "live" and not self.settings.webhooks_allow_private:
            await check_target(claim.url)
        response = await self.client.post(claim.url, content=body, headers=headers)
        return response.status_code, response.content[:EXCERPT_BYTES].decode("utf-8", "replace")
