"""Webhooks: what is sent, how it is signed, when it is retried, and where it may go."""

from __future__ import annotations

import base64
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


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature`` (Standard Webhooks): ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``,
    keyed with the secret's bytes (base64-decoded for ``whsec_`` secrets)."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses (SSRF)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
