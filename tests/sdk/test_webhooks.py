"""verify_webhook (the SDK's own code) against bodies signed by the gateway's signing code."""

from __future__ import annotations

import time

import pytest
from cauri_client import WebhookVerificationError, verify_webhook

from cauri.domain.webhooks import body_bytes, moneroo_signature, new_secret, standard_signature

SECRET = new_secret()
BODY = body_bytes("payment.success", {"id": "py_1", "amount": 5000, "note": "café/thé"})


def signed(body: bytes = BODY, stamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    return {
        "X-Moneroo-Signature": moneroo_signature(secret, body),
        "webhook-id": "evt_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": standard_signature(secret, "evt_1", stamp, body),
    }


def test_a_genuine_webhook_is_returned_parsed() -> None:
    assert verify_webhook(BODY, signed(), SECRET)["data"]["id"] == "py_1"
    # Moneroo's own deliveries carry only X-Moneroo-Signature.
    assert verify_webhook(BODY, {"x-moneroo-signature": moneroo_signature(SECRET, BODY)}, SECRET)["event"]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (BODY.replace(b"5000", b"5"), signed()),  # tampered body
        (BODY, signed(secret=new_secret())),  # another secret
        (BODY, signed(stamp=int(time.time()) - 3600)),  # an old replay
        (BODY, signed(stamp=int(time.time()) + 3600)),  # a timestamp from the future
        (BODY, {**signed(), "webhook-timestamp": str(int(time.time() * 1000))}),  # milliseconds
        (BODY, {**signed(), "X-Moneroo-Signature": "é" * 64}),  # non-ASCII: refused, not a crash
        (BODY, {}),
    ],
)
def test_forgeries_and_replays_are_refused(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, SECRET)


def test_a_reserialised_body_does_not_verify() -> None:
    import json

    reserialised = json.dumps(json.loads(BODY)).encode()  # Python's spacing and \\u escapes
    with pytest.raises(WebhookVerificationError):
        verify_webhook(reserialised, signed(), SECRET)
