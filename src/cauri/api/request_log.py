"""A request id for every request (``X-Request-Id``), one structured log line when it ends, and its count in
the metrics (one wrapper of the answer for both)."""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cauri.domain.randomness import random_hex
from cauri.metrics import count_request

log = logging.getLogger("cauri.http")
_ACCEPTED_ID = re.compile(rb"[A-Za-z0-9._:-]{8,64}")


class RequestLog:
    """Pure ASGI (no BaseHTTPMiddleware): it costs a few microseconds and does not buffer bodies."""

    def __init__(self, app: ASGIApp, *, count_requests: bool = False) -> None:
        self.app = app
        self.count_requests = count_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value  # the last one wins, as in a dict of the headers
        request_id = incoming.decode() if _ACCEPTED_ID.fullmatch(incoming) else "req_" + random_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500  # an exception escaping the app is answered 500 by Starlette's outermost handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.count_requests:
                count_request(scope, status)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "app_id": scope["state"].get("app_id"),
                    },
                )
