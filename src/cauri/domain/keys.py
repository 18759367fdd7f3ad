"""Secret API keys: Moneroo's format, long random secrets, stored only as a SHA-256."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass

from cauri.domain.payments import Environment, new_id

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET_LENGTH = 40  # base36 characters after the "|": about 206 bits


@dataclass(frozen=True, slots=True)
class NewKey:
    secret: str  # shown to the merchant once, never stored
    secret_hash: bytes
    display_prefix: str


def generate_key(environment: Environment) -> NewKey:
    """``pvk_sandbox_<6 base36>|<40 base36>`` or ``pvk_<6 base36>|<40 base36>``: merchant code tests
    ``key.startswith("pvk_sandbox")``, so the prefixes are Moneroo's."""
    head = "pvk_sandbox_" if environment is Environment.SANDBOX else "pvk_"
    prefix = head + new_id(length=6)
    secret = f"{prefix}|{new_id(length=SECRET_LENGTH)}"
    return NewKey(secret=secret, secret_hash=hash_secret(secret), display_prefix=prefix)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def environment_of(secret: str) -> Environment:
    return Environment.SANDBOX if secret.startswith("pvk_sandbox_") else Environment.LIVE


def new_ulid() -> str:
    """A ULID (time-ordered, 26 Crockford base32 characters), the shape of Moneroo's app ids."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return secrets.compare_digest(a, b)
