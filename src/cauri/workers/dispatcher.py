"""The webhook dispatcher: claims due deliveries, sends them signed, records every try, retries with backoff.

Any number of dispatchers (inside ``cauri serve`` or as ``cauri worker``) share one database: a delivery is
claimed with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), so two never send it at the same time, and a
dead worker's claims return to the pool when their lease ends. Sending is at least once: receivers dedupe on
``webhook-id``.

Endpoints are kept apart: a dispatcher sends at most ``webhook_endpoint_concurrency`` webhooks at once to one
endpoint (it claims no more for an endpoint at its cap), each endpoint has its own small connection pool, and
a try has one deadline from lookup to answer; so an endpoint that hangs holds a few slots, never the others'.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx

from cauri import metrics
from cauri.domain.clock import utcnow
from cauri.domain.webhooks import body_bytes, moneroo_signature, retry_delay, standard_signature
from cauri.services import webhooks
from cauri.services.runtime import Runtime
from cauri.services.webhooks import Claim, TryResult, unseal_secret
from cauri.settings import Settings
from cauri.workers.targets import UnsafeTarget, check_target, pinned

log = logging.getLogger("cauri.workers.dispatcher")
EXCERPT_BYTES = 1024
#: An endpoint's pool is closed when it has sent nothing for this long.
POOL_IDLE_SECONDS = 300.0


class EndpointPools:
    """One small HTTP connection pool per endpoint. A hanging endpoint fills its own pool, not a shared one;
    and a connection opened to an address checked for one endpoint's host is never reused for another's."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tls = httpx.create_ssl_context()  # loading the CA bundle is slow: once, for every pool
        self.pools: dict[str, tuple[httpx.AsyncClient, float]] = {}

    def client(self, endpoint_id: str) -> httpx.AsyncClient:
        found = self.pools.get(endpoint_id)
        client = found[0] if found else self._new_client(self.tls)
        self.pools[endpoint_id] = (client, time.monotonic())
        return client

    def _new_client(self, tls: ssl.SSLContext) -> httpx.AsyncClient:
        size = self.settings.webhook_endpoint_concurrency
        return httpx.AsyncClient(
            verify=tls,
            timeout=self.settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": "Cauri-Webhooks/1"},
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
        )

    async def close_idle(self, busy: Counter[str]) -> None:
        horizon = time.monotonic() - POOL_IDLE_SECONDS
        idle = [key for key, (_, used) in self.pools.items() if used < horizon and not busy[key]]
        for key in idle:
            client, _ = self.pools.pop(key)
            await client.aclose()

    async def close(self) -> None:
        pools, self.pools = self.pools, {}
        for client, _ in pools.values():
            await client.aclose()


class Dispatcher:
    """Sends webhooks. Emails have their own loop (``workers.mail.Mailer``): a slow SMTP server never holds
    webhooks back."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.pools = EndpointPools(runtime.settings)

    async def close(self) -> None:
        await self.pools.close()

    async def claim(
        self, limit: int, busy: Counter[str] | None = None, finished: list[TryResult] | None = None
    ) -> list[Claim]:
        """Claim due deliveries (recording the ``finished`` tries in the same transaction)."""
        lease = utcnow() + timedelta(seconds=self.settings.dispatcher_lease_seconds)
        return await webhooks.claim_deliveries(
            self.runtime.uow(),
            lease,
            limit,
            per_endpoint=self.settings.webhook_endpoint_concurrency,
            busy=busy,
            finished=finished or (),
        )

    async def run_once(self) -> int:
        """Send what is due now; returns how many deliveries were tried."""
        claims = await self.claim(self.settings.dispatcher_batch)
        results = await asyncio.gather(*(self.deliver(claim) for claim in claims))
        await webhooks.record_tries(self.runtime.uow(), results)
        return len(claims)

    async def run_forever(self) -> None:
        """Keep up to ``dispatcher_batch`` webhooks in flight, claiming more as each one ends, so that a slow
        endpoint holds its slots (until its timeout), not a whole batch; results are recorded in batches."""
        try:
            await self._run_forever()
        finally:
            await self.close()

    async def _run_forever(self) -> None:
        inflight: dict[asyncio.Task[TryResult], str] = {}  # -> endpoint id
        try:
            await self._keep_sending(inflight)
        finally:
            for task in inflight:  # shutting down: their leases end and they are tried again
                task.cancel()

    async def _keep_sending(self, inflight: dict[asyncio.Task[TryResult], str]) -> None:
        busy: Counter[str] = Counter()  # endpoint id -> webhooks in flight
        finished: list[TryResult] = []  # recorded with the next claim, or alone
        tidied = time.monotonic()
        while True:
            try:
                free = self.settings.dispatcher_batch - len(inflight)
                claims: list[Claim] = []
                # Claim in chunks (half the slots free, or none in flight), not one query per finished send.
                if free >= max(1, self.settings.dispatcher_batch // 2) or not inflight:
                    claims = await self.claim(free, busy, finished)
                    for claim in claims:
                        inflight[asyncio.create_task(self.deliver(claim))] = claim.endpoint_id
                        busy[claim.endpoint_id] += 1
                elif finished:
                    await webhooks.record_tries(self.runtime.uow(), finished)
                finished = []
                if inflight:
                    done, _ = await asyncio.wait(
                        inflight, timeout=self.settings.dispatcher_poll_seconds, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        endpoint_id = inflight.pop(task)
                        busy[endpoint_id] -= 1
                        if not busy[endpoint_id]:
                            del busy[endpoint_id]
                        finished.append(task.result())
                elif not claims:
                    await asyncio.sleep(self.settings.dispatcher_poll_seconds)
                if time.monotonic() - tidied > POOL_IDLE_SECONDS / 10:
                    tidied = time.monotonic()
                    await self.pools.close_idle(busy)
            except Exception:
                log.exception("dispatcher pass failed")
                finished = []  # their leases end and they are tried again
                await asyncio.sleep(self.settings.dispatcher_poll_seconds)

    async def deliver(self, claim: Claim) -> TryResult:
        """One try, always recorded and counted: whatever goes wrong (a network error, an unsafe target, a
        secret that cannot sign) becomes its error, so a delivery cannot be retried past its last try."""
        started = time.perf_counter()
        status_code: int | None = None
        excerpt = error = None
        timeout = self.settings.webhook_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                status_code, excerpt = await self._send(claim)
        except (httpx.HTTPError, UnsafeTarget) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except TimeoutError:
            error = f"TimeoutError: no answer within {timeout:g} s"
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
        """POST the signed event; the status and the answer's first KB (no more is read)."""
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
        url = httpx.URL(claim.url)
        extensions: dict[str, Any] = {}
        if claim.environment == "live" and not self.settings.webhooks_allow_private:
            url, host, extensions = pinned(url, await check_target(url))
            headers.update(host)
        client = self.pools.client(claim.endpoint_id)
        async with client.stream("POST", url, content=body, headers=headers, extensions=extensions) as response:
            head = bytearray()
            async for chunk in response.aiter_bytes():
                head += chunk
                if len(head) >= EXCERPT_BYTES:
                    break
        return response.status_code, head[:EXCERPT_BYTES].decode("utf-8", "replace")
