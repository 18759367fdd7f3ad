"""Secrets that must be read back (webhook signing secrets, providers' credentials) are sealed with AES-GCM under
a key derived from CAURI_SECRET_KEY: a copy of the database alone does not reveal them.

Each kind of secret has its own derived key (``purpose``), and a sealed value may be bound to the row it belongs
to (``bound_to``, authenticated but not encrypted): one row's ciphertext copied into another does not open."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

WEBHOOK_SECRETS = b"cauri/webhook-secrets/v1"
PROVIDER_CREDENTIALS = b"cauri/provider-credentials/v1"


def _key(master: bytes, purpose: bytes) -> bytes:
    return hashlib.sha256(purpose + b"\0" + master).digest()


def seal(master: bytes, plaintext: str, *, purpose: bytes = WEBHOOK_SECRETS, bound_to: str | None = None) -> bytes:
    nonce = os.urandom(12)
    bound = bound_to.encode() if bound_to is not None else None
    return nonce + AESGCM(_key(master, purpose)).encrypt(nonce, plaintext.encode(), bound)


def unseal(master: bytes, sealed: bytes, *, purpose: bytes = WEBHOOK_SECRETS, bound_to: str | None = None) -> str:
    bound = bound_to.encode() if bound_to is not None else None
    return AESGCM(_key(master, purpose)).decrypt(sealed[:12], sealed[12:], bound).decode()
