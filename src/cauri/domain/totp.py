"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): SHA-1, 6 digits, 30-second steps, which
every authenticator app reads from an ``otpauth://`` URI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
#: Steps either side of now a code is accepted for: a phone's clock a little off, a code typed as it turned.
WINDOW = 1


def new_secret() -> str:
    """A 160-bit secret (RFC 4226's recommended length), base32 as authenticator apps take it."""
    return base64.b32encode(os.urandom(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)


def hotp(secret: str, counter: int) -> str:
    digest = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def step_at(unix_time: float) -> int:
    return int(unix_time // STEP_SECONDS)


def matching_step(secret: str, code: str, unix_time: float, last_step: int | None) -> int | None:
    """The time step ``code`` is valid for near ``unix_time``, or None. A step at or before ``last_step`` (the
    last one accepted) never matches: a code seen once, over a shoulder or in a log, does not open again."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    now = step_at(unix_time)
    found = None
    for step in range(now - WINDOW, now + WINDOW + 1):
        # Every candidate is compared (constant time each), so the answer's timing says nothing of which matched.
        if hmac.compare_digest(hotp(secret, step), code) and (last_step is None or step > last_step):
            found = step
    return found


def otpauth_uri(secret: str, account: str, issuer: str = "Cauri") -> str:
    label = quote(f"{issuer}:{account}", safe="@:")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS,
                       "period": STEP_SECONDS})  # fmt: skip
    return f"otpauth://totp/{label}?{query}"
