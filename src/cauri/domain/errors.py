"""Errors as values: a code for the envelope's status, and messages keyed by the field they concern."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldErrors:
    """Validation failures collected field by field (dotted names for nested fields), in input order."""

    by_field: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def summary(self) -> str:
        """Laravel's wording, which Moneroo's clients display: the first error, then how many more."""
        messages = [m for ms in self.by_field.values() for m in ms]
        if not messages:
            return "The given data was invalid."
        more = len(messages) - 1
        if more == 0:
            return messages[0]
        return f"{messages[0]} (and {more} more error{'s' if more > 1 else ''})"


class DomainError(Exception):
    """A rule the request broke; ``status`` is the HTTP status the API answers with."""

    status = 422
    #: The field a 422 names when it has no per-field errors of its own.
    field = "request"

    def __init__(self, message: str, errors: FieldErrors | None = None) -> None:
        super().__init__(message)
        self.message = message
        if errors is None and self.status == 422:
            errors = FieldErrors({self.field: [message]})
        self.errors = errors


class ValidationFailed(DomainError):
    def __init__(self, errors: FieldErrors) -> None:
        super().__init__(errors.summary(), errors)


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409
