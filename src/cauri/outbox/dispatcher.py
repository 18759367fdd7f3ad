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
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri import metrics
from cauri.domain.webhooks import body_bytes, is_public_address, moneroo_signature, retry_delay, standard_signature
from cauri.outbox import mail
from cauri.settings import Settings
from cauri.store.clock import utcnow
from cauri.store.emails import EmailClaim, claim_emails, record_email
from cauri.store.sealing import unseal
from cauri.store.webhooks import Claim, TryResult, claim_due, record_attempts

log = logging.getLogger("cauri.outbox")
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
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
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
        claims = await claim_due(self.engine, lease, self.settings.dispatcher_batch)
        results = await asyncio.gather(*(self.deliver(claim) for claim in claims))
        await record_attempts(self.engine, [r for r in results if r is not None])
        mails = await claim_emails(self.engine, lease, self.settings.dispatcher_batch)
        await asyncio.gather(*(self.mail(claim) for claim in mails))
        return len(claims) + len(mails)

    async def mail(self, claim: EmailClaim) -> None:
        error = None
        try:
            message = mail.render(claim.kind, claim.event_type, claim.data, claim.app_name, self.settings)
            await mail.send(message, claim.to_address, claim.id, self.settings)
        except Exception as exc:  # an SMTP refusal, a timeout, a template bug: retried, recorded
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("email failed", extra={"email_id": claim.id, "error": error})
        delay = retry_delay(claim.attempts, self.settings.webhook_retry_scale) if error else None
        await record_email(self.engine, claim, error=error, next_attempt_at=utcnow() + delay if delay else None)
        metrics.count_email("sent" if error is None else "retry" if delay else "failed")

    async def run_forever(self) -> None:
        """Keep up to ``dispatcher_batch`` webhooks in flight, claiming more as each one ends, so that a slow
        endpoint holds one slot (until its timeout), not a whole batch; results are recorded in batches."""
        inflight: set[asyncio.Task[TryResult | None]] = set()
        while True:
            try:
                free = self.settings.dispatcher_batch - len(inflight)
                claims: list[Claim] = []
                # Claim in chunks (half the slots free, or none in flight), not one query per finished send.
                if free >= max(1, self.settings.dispatcher_batch // 2) or not inflight:
                    lease = utcnow() + timedelta(seconds=self.settings.dispatcher_lease_seconds)
                    claims = await claim_due(self.engine, lease, free)
                    inflight.update(asyncio.create_task(self.deliver(claim)) for claim in claims)
                    mails = await claim_emails(self.engine, lease, self.settings.dispatcher_batch)
                    await asyncio.gather(*(self.mail(claim) for claim in mails))
                if inflight:
                    done, inflight = await asyncio.wait(
                        inflight, timeout=self.settings.dispatcher_poll_seconds, return_when=asyncio.FIRST_COMPLETED
                    )
                    await record_attempts(self.engine, [r for r in (t.result() for t in done) if r is not None])
                elif not claims:
                    await asyncio.sleep(self.settings.dispatcher_poll_seconds)
            except Exception:
                log.exception("dispatcher pass failed")
                await asyncio.sleep(self.settings.dispatcher_poll_seconds)

    async def deliver(self, claim: Claim) -> TryResult | None:
        try:
            return await self._deliver(claim)
        except Exception:
            # Never let one delivery stop the others; its lease ends and it is tried again.
            log.exception("delivery failed unexpectedly", extra={"delivery_id": claim.delivery_id})
            return None

    async def _deliver(self, claim: Claim) -> TryResult:
        body = body_bytes(claim.event_type, claim.data)
        secret = unseal(self.settings.secret, claim.secret_encrypted)
        stamp = int(time.time())  # the signature covers this try's time, not the event's
        headers = {
            "Content-Type": "application/json",
            "X-Moneroo-Signature": moneroo_signature(secret, body),
            "webhook-id": claim.event_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": standard_signature(secret, claim.event_id, stamp, body),
        }
        started = time.perf_counter()
        status_code: int | None = None
        excerpt = error = None
        try:
            if claim.environment == "live" and not self.settings.webhooks_allow_private:
                await check_target(claim.url)
            response = await self.client.post(claim.url, content=body, headers=headers)
            status_code = response.status_code
            excerpt = response.content[:EXCERPT_BYTES].decode("utf-8", "replace")
        except (httpx.HTTPError, UnsafeTarget) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        latency = int((time.perf_counter() - started) * 1000)
        if status_code is not None and 200 <= status_code < 300:  # a redirect is not a receipt
            outcome, next_at = "delivered", None
        else:
            delay = retry_delay(claim.attempts, self.settings.webhook_retry_scale)
            outcome, next_at = ("pending", utcnow() + delay) if delay is not None else ("failed", None)
        metrics.count_delivery("retry" if outcome == "pending" else "delivered" if outcome == "delivered" else "failed")
        return TryResult(claim, status_code, latency, excerpt, error, outcome, next_at)
