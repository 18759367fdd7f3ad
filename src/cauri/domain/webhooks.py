"""Webhooks: what is sent, how it is signed, when it is retried, and where it may go."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import random
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import orjson

PAYMENT_EVENTS = ("payment.initiated", "payment.success", "payment.failed", "payment.cancelled")
PAYOUT_EVENTS = ("payout.initiated", "payout.success", "payout.failed")  # Moneroo has no payout.cancelled
#: Every event an endpoint may subscribe to.
WEBHOOK_EVENTS = PAYMENT_EVENTS + PAYOUT_EVENTS + ("payment.refunded", "refund.failed")  # refunds: our extension
#: What the dashboard's "send a test event" sends (to one endpoint, whatever events it subscribes to).
TEST_EVENT = "webhook.test"
MAX_ENDPOINTS = 15  # per app and environment, as on Moneroo

#: Delays before each retry, ~3 days in all (after the first try, which is immediate). Jitter spreads the
#: retries of many deliveries that failed together.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=20),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def retry_delay(attempts_made: int, scale: float = 1.0) -> timedelta | None:
    """The wait before the next try after ``attempts_made`` tries, or None when they are exhausted."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[attempts_made - 1]
    return base * scale * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not secrecy


def new_secret() -> str:
    """Standard Webhooks' format: ``whsec_`` and base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def body_bytes(event_type: str, data: Mapping[str, Any]) -> bytes:
    """``{"event", "data"}`` serialised as JavaScript's JSON.stringify would (see api/envelope.py)."""
    return orjson.dumps({"event": event_type, "data": data})


def moneroo_signature(secret: str, body: bytes) -> str:
    """``X-Moneroo-Signature``: lowercase hex HMAC-SHA256 of the raw body, keyed with the secret as typed."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


#: Standard Webhooks' bounds for a ``whsec_`` secret's key, in bytes.
WHSEC_KEY_BYTES = (24, 64)


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` cannot sign (a phrase to follow "the secret"), or None. A ``whsec_`` secret must be
    strict base64 of a 24 to 64 byte key: lenient decoding drops what is not base64, so ``whsec_!!!…`` gave an
    empty HMAC key."""
    if not secret.startswith("whsec_"):
        return None
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        return "must be whsec_ followed by standard base64 (Standard Webhooks)"
    low, high = WHSEC_KEY_BYTES
    if not low <= len(key) <= high:
        return f"must be whsec_ followed by the base64 of a {low} to {high} byte key"
    return None


def signing_key(secret: str) -> bytes:
    """The HMAC key of ``webhook-signature``: the decoded bytes of a ``whsec_`` secret, else the secret as typed.
    Raises ValueError for a ``whsec_`` secret ``secret_problem`` refuses (one stored before it was checked)."""
    problem = secret_problem(secret)
    if problem is not None:
        raise ValueError(f"the endpoint's secret {problem}")
    return base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature`` (Standard Webhooks): ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``,
    keyed with ``signing_key(secret)``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(signing_key(secret), signed, hashlib.sha256).digest()).decode()


#: NAT64's well-known prefix (RFC 6052): a gateway forwards ``64:ff9b::a.b.c.d`` to the IPv4 ``a.b.c.d``.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: Refused whatever they embed: NAT64's local-use prefix (RFC 8215, a network's own translator), Teredo (the
#: relay's and client's addresses are obfuscated) and the deprecated IPv4-compatible form ``::a.b.c.d``.
_REFUSED_V6 = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("2001::/32"),
    ipaddress.IPv6Network("::/96"),
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to, if any: IPv4-mapped, NAT64 (well-known prefix) or 6to4."""
    if ip.ipv4_mapped is not None or ip.sixtofour is not None:
        return ip.ipv4_mapped or ip.sixtofour
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses (SSRF), and for
    IPv6 addresses that lead to such an IPv4 address through a translator or relay (NAT64, 6to4)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _REFUSED_V6):
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            ip = inner
    return ip.is_global and not ip.is_multicast
