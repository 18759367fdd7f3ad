"""Random identifiers from the operating system's CSPRNG, read in batches.

Ids are bearer-like (a payment id opens its checkout page), so every character comes from ``os.urandom``.
Each read is a system call and initialize needs four random values per request, so the bytes are read 4 KB at
a time and handed out in order, each used once. A forked child starts with an empty batch, never its
parent's.
"""

from __future__ import annotations

import os
import threading

BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_BATCH = 4096
# A byte below 252 (= 7 × 36) is one base-36 digit (byte % 36, uniform); the four above are dropped
# (rejection sampling), so no digit is likelier than another.
_DIGIT_OF_BYTE = bytes(ord(BASE36[b % 36]) if b < 252 else 0 for b in range(256))
_REJECTED = bytes(range(252, 256))


class _Batch:
    """Values read ahead from ``os.urandom``; the lock keeps two threads from ever being handed the same."""

    def __init__(self, *, digits: bool) -> None:
        self._lock = threading.Lock()
        self._digits = digits
        self._ahead = b""
        self._at = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            end = self._at + n
            while end > len(self._ahead):
                fresh = os.urandom(_BATCH)
                if self._digits:
                    fresh = fresh.translate(_DIGIT_OF_BYTE, _REJECTED)
                self._ahead, self._at = self._ahead[self._at :] + fresh, 0
                end = n
            taken = self._ahead[self._at : end]
            self._at = end
            return taken

    def forget(self) -> None:
        with self._lock:
            self._ahead, self._at = b"", 0


_base36 = _Batch(digits=True)
_bytes = _Batch(digits=False)


def _forget_all() -> None:
    _base36.forget()
    _bytes.forget()


os.register_at_fork(after_in_child=_forget_all)


def base36(length: int) -> str:
    """``length`` uniformly random lowercase base-36 characters."""
    return _base36.take(length).decode("ascii")


def random_hex(nbytes: int) -> str:
    """``nbytes`` random bytes in hexadecimal, like ``secrets.token_hex``."""
    return _bytes.take(nbytes).hex()
