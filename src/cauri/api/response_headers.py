"""The security headers every answer carries: API JSON, errors, 404s, the docs, health, static files.

A handler that sets one of these (the checkout's and the docs' own Content-Security-Policy) keeps its value:
the middleware only fills in what is missing, so no header is sent twice.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Nothing here is meant to be framed, sniffed into another type, or to leak its URL (a checkout URL is a
#: bearer capability) to the next site. Answers that are not pages run nothing if opened as one.
DEFAULTS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
)


#: The same, as the raw (lower-case name, value) pairs of an ASGI message, built once.
_RAW_DEFAULTS = tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in DEFAULTS)
_HSTS = b"strict-transport-security"


class SecurityHeaders:
    """Pure ASGI. ``hsts_seconds`` > 0 adds Strict-Transport-Security to answers served over HTTPS (directly,
    through a trusted proxy, or when the public URL is https: browsers ignore it over plain HTTP anyway)."""

    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 0, public_https: bool = False) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_seconds}".encode() if hsts_seconds > 0 else b""
        self.public_https = public_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hsts = self.hsts if self.hsts and (self.public_https or scope.get("scheme") == "https") else b""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Raw pairs appended to the message's own list: no Headers object nor per-name scan per answer.
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in _RAW_DEFAULTS if pair[0] not in present]
                if hsts and _HSTS not in present:
                    headers.append((_HSTS, hsts))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
