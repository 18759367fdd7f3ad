"""Errors carry what the API's envelope said: the status, the message and the field errors."""

from __future__ import annotations


class CauriError(Exception):
    """The API answered with an error (or could not be reached: ``status`` is then None)."""

    def __init__(self, message: str, *, status: int | None = None, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors or {}


class APIConnectionError(CauriError):
    """No answer: the connection failed or timed out (after the retries)."""


class AuthenticationError(CauriError):
    """401: the secret key is missing, invalid, expired or revoked."""


class NotFoundError(CauriError):
    """404: no such payment for this key's app and environment."""


class ConflictError(CauriError):
    """409: a request with the same idempotency key is still running, or the resource is locked."""


class ValidationError(CauriError):
    """422: ``errors`` maps each failing field (``customer.email``) to its messages."""


class RateLimitError(CauriError):
    """429: too many requests (after the retries)."""


class ServerError(CauriError):
    """5xx (after the retries)."""


class WebhookVerificationError(Exception):
    """The webhook's signature or timestamp is wrong: do not trust its body."""


def error_for(status: int, message: str, errors: dict[str, list[str]] | None) -> CauriError:
    kind: type[CauriError] = {
        401: AuthenticationError,
        404: NotFoundError,
        409: ConflictError,
        422: ValidationError,
        429: RateLimitError,
    }.get(status, ServerError if status >= 500 else CauriError)
    return kind(message, status=status, errors=errors)
