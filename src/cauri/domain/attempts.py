"""Attempts: one try at paying a payment with one method. Many may fail; at most one succeeds."""

from __future__ import annotations

from enum import StrEnum

from cauri.domain.errors import DomainError


class AttemptStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"


class AttemptRefused(DomainError):
    status = 409


#: An attempt ends once: pending -> success or failed, never back.
ATTEMPT_TRANSITIONS: dict[AttemptStatus, frozenset[AttemptStatus]] = {
    AttemptStatus.PENDING: frozenset({AttemptStatus.SUCCESS, AttemptStatus.FAILED}),
    AttemptStatus.SUCCESS: frozenset(),
    AttemptStatus.FAILED: frozenset(),
}

MAX_ATTEMPTS_PER_PAYMENT = 10
