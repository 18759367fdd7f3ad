"""The page's defences: CSRF tokens, security headers, and attempt rate limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

CSRF_COOKIE = "cauri_csrf"


def new_browser_secret() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(server_secret: bytes, browser_secret: str, payment_id: str) -> str:
    """A form token bound to this browser (its cookie) and this payment, so a token taken from one page
    works nowhere else; the cookie is SameSite=Strict, so another site cannot send it either."""
    message = f"{browser_secret}:{payment_id}".encode()
    return hmac.new(server_secret, message, hashlib.sha256).hexdigest()


def csrf_valid(server_secret: bytes, browser_secret: str | None, payment_id: str, token: str | None) -> bool:
    if not browser_secret or not token:
        return False
    expected = csrf_token(server_secret, browser_secret, payment_id)
    return hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace"))


def page_headers(nonce_free_csp: str = "") -> dict[str, str]:
    """No inline script anywhere (CSP), and never cached. No framing, sniffing or referrer leaking the payment
    URL: the headers every answer carries (``cauri.api.response_headers``) say so."""
    csp = nonce_free_csp or (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {"Content-Security-Policy": csp, "Cache-Control": "no-store"}


@dataclass
class SlidingWindow:
    """At most ``limit`` events per ``seconds`` for each key, in this process."""

    limit: int
    seconds: float
    _events: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.seconds:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        if len(self._events) > 10_000:
            self._events = {k: v for k, v in self._events.items() if v and v[-1] > now - self.seconds}
        return True
