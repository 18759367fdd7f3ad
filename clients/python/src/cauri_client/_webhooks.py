"""Checking a webhook before trusting it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from cauri_client._errors import WebhookVerificationError

DEFAULT_TOLERANCE = 300  # seconds either way


def verify_webhook(
    raw_body: bytes, headers: Mapping[str, str], secret: str, *, tolerance: int = DEFAULT_TOLERANCE
) -> dict[str, Any]:
    """Return the event (``{"event", "data"}``) if ``raw_body`` is signed with ``secret``, else raise
    ``WebhookVerificationError``.

    ``X-Moneroo-Signature`` (hex HMAC-SHA256 of the raw body) is required and compared in constant time.
    When the Standard Webhooks headers are present (Cauri sends them), the timestamp must also be within
    ``tolerance`` seconds of now, in the past or the future, and one ``webhook-signature`` must match: that
    refuses replays. Pass the raw bytes, never a re-serialised body.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get("x-moneroo-signature", "")
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode("utf-8", "replace")):
        raise WebhookVerificationError("X-Moneroo-Signature does not match the body")
    if "webhook-signature" in lowered:
        _verify_standard(raw_body, lowered, secret, tolerance)
    try:
        event: dict[str, Any] = json.loads(raw_body)
    except ValueError as exc:
        raise WebhookVerificationError("the body is not JSON") from exc
    return event


def _verify_standard(raw_body: bytes, headers: Mapping[str, str], secret: str, tolerance: int) -> None:
    message_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not stamp.isascii() or not stamp.isdigit():
        raise WebhookVerificationError("webhook-timestamp is missing or not in seconds")
    if abs(time.time() - int(stamp)) > tolerance:  # too old or too far in the future
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    signed = f"{message_id}.{stamp}.".encode() + raw_body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for candidate in headers.get("webhook-signature", "").split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected, value.encode("utf-8", "replace")):
            return
    raise WebhookVerificationError("webhook-signature does not match")
