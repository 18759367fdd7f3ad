"""The security headers every answer carries: API JSON, errors, 404s, the docs, health, static files.

A handler that sets one of these (the checkout's and the docs' own Content-Security-Policy) keeps its value:
the middleware only fills in what is missing, so no header is sent twice.
"""

from __future__ import annotations

from starlette.types import Scope

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
    """Fills in the security headers of an answer (the request log, the outermost layer, calls it on every
    answer's start). ``hsts_seconds`` > 0 adds Strict-Transport-Security to answers served over HTTPS
    (directly, through a trusted proxy, or when the public URL is https: browsers ignore it over plain HTTP
    anyway)."""

    def __init__(self, *, hsts_seconds: int = 0, public_https: bool = False) -> None:
        self.hsts = f"max-age={hsts_seconds}".encode() if hsts_seconds > 0 else b""
        self.public_https = public_https

    def complete(self, headers: list[tuple[bytes, bytes]], scope: Scope) -> list[tuple[bytes, bytes]]:
        """``headers`` (an ASGI message's raw pairs, a list of its own) with the missing ones appended."""
        # Raw pairs appended to the message's own list: no Headers object nor per-name scan per answer.
        present = {name.lower() for name, _ in headers}
        headers += [pair for pair in _RAW_DEFAULTS if pair[0] not in present]
        if self.hsts and (self.public_https or scope.get("scheme") == "https") and _HSTS not in present:
            headers.append((_HSTS, self.hsts))
        return headers
