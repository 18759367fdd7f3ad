"""Payouts: money sent to a recipient, their statuses and their own state machine.

A payout is created ``initiated`` (queued), becomes ``pending`` once it is handed to its connector, and ends
``success`` or ``failed`` when the provider says so. Unlike a payment there is no retry within one payout: a
failed payout is final, and the merchant initializes another.
"""

from __future__ import annotations

from enum import StrEnum

from cauri.domain.errors import DomainError


class PayoutStatus(StrEnum):
    INITIATED = "initiated"
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in PAYOUT_FINAL_STATUSES


PAYOUT_FINAL_STATUSES = frozenset({PayoutStatus.SUCCESS, PayoutStatus.FAILED})

#: The only moves a payout can make; a final payout never changes again.
PAYOUT_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    PayoutStatus.INITIATED: frozenset({PayoutStatus.PENDING}),
    PayoutStatus.PENDING: frozenset({PayoutStatus.SUCCESS, PayoutStatus.FAILED}),
    PayoutStatus.SUCCESS: frozenset(),
    PayoutStatus.FAILED: frozenset(),
}

#: The event each status emits when a payout enters it (Moneroo has no ``payout.pending``).
PAYOUT_EVENT_FOR_STATUS: dict[PayoutStatus, str] = {
    PayoutStatus.INITIATED: "payout.initiated",
    PayoutStatus.SUCCESS: "payout.success",
    PayoutStatus.FAILED: "payout.failed",
}

#: The column that records when a payout entered each status.
STAMP_FOR_STATUS: dict[PayoutStatus, str] = {
    PayoutStatus.PENDING: "pending_at",
    PayoutStatus.SUCCESS: "success_at",
    PayoutStatus.FAILED: "failed_at",
}

PAYOUT_NOT_FOUND = "Payout transaction not found."


class PayoutTransitionRefused(DomainError):
    status = 409


def check_payout_transition(current: PayoutStatus, target: PayoutStatus) -> None:
    """Raise ``PayoutTransitionRefused`` unless ``current -> target`` is a move the state machine allows."""
    if target not in PAYOUT_TRANSITIONS[current]:
        raise PayoutTransitionRefused(f"A {current.value} payout cannot become {target.value}.")


def payout_sources_of(target: PayoutStatus) -> frozenset[PayoutStatus]:
    """Every status from which ``target`` can be reached: the guard of a compare-and-set update."""
    return frozenset(s for s, targets in PAYOUT_TRANSITIONS.items() if target in targets)
