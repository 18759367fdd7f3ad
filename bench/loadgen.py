"""An open-loop load generator: a fixed request rate over keep-alive connections, with latency measured from
each request's *scheduled* time, so a stalled server is not hidden (no coordinated omission). wrk measures the
peak; this measures latency at a chosen rate, which wrk cannot hold."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    sent: int = 0
    elapsed: float = 0.0

    @property
    def errors(self) -> int:
        """Answers that were not a success (3xx and up)."""
        return sum(n for status, n in self.statuses.items() if status >= 300)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _connection(
    host: str,
    port: int,
    request: bytes,
    start: float,
    interval: float,
    offset: float,
    stop: float,
    result: Result,
    key_prefix: str,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = 0
    try:
        while True:
            scheduled = start + offset + n * interval
            if scheduled >= stop:
                return
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(request.replace(b"@KEY@", f"{key_prefix}-{n:09d}".encode()))
            result.sent += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            n += 1
    finally:
        writer.close()


async def run(url: str, secret: str, body: bytes, rate: float, duration: float, connections: int) -> Result:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    # The key placeholder has the same length as the keys put in, so Content-Length stays right.
    request = (
        f"POST /v1/payments/initialize HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {secret}\r\n"
        f"Content-Type: application/json\r\nIdempotency-Key: @KEY@\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    result = Result()
    interval = connections / rate
    start = time.perf_counter() + 0.2
    stop = start + duration
    stamp = int(time.time())
    await asyncio.gather(
        *(
            _connection(
                host, port, request, start, interval, i * interval / connections, stop, result, f"lg{stamp}-{i:03d}"
            )
            for i in range(connections)
        )
    )
    result.elapsed = time.perf_counter() - start
    return result
