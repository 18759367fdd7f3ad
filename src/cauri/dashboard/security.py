"""The dashboard's cookies and form tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: The session's random token (its SHA-256 is the session's key in the database).
SESSION_COOKIE = "cauri_session"
#: Before login there is no session: the login form's token is bound to this cookie instead.
LOGIN_COOKIE = "cauri_login"
COOKIE_PATH = "/dashboard"


def new_login_secret() -> str:
    return secrets.token_urlsafe(32)


def form_token(server_secret: bytes, purpose: str, binding: str) -> str:
    """A form token bound to one browser (its login cookie, or its session) and one purpose: a token read from
    one place works nowhere else, and another site can neither read nor make one."""
    return hmac.new(server_secret, f"dashboard:{purpose}:{binding}".encode(), hashlib.sha256).hexdigest()


def form_token_valid(server_secret: bytes, purpose: str, binding: str | None, token: str | None) -> bool:
    if not binding or not token:
        return False
    expected = form_token(server_secret, purpose, binding)
    return hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace"))
