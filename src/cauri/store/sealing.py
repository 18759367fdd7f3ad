"""Secrets that must be read back (webhook signing secrets) are sealed with AES-GCM under a key derived
from CAURI_SECRET_KEY: a copy of the database alone does not reveal them."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _key(master: bytes) -> bytes:
    return hashlib.sha256(b"cauri/webhook-secrets/v1\0" + master).digest()


def seal(master: bytes, plaintext: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_key(master)).encrypt(nonce, plaintext.encode(), None)


def unseal(master: bytes, sealed: bytes) -> str:
    return AESGCM(_key(master)).decrypt(sealed[:12], sealed[12:], None).decode()
