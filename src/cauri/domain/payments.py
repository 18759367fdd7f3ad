"""Payments: their statuses and the one state machine every change of status goes through."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cauri.domain.errors import DomainError
from cauri.domain.randomness import BASE36, base36


class PaymentStatus(StrEnum):
    INITIATED = "initiated"
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


class Environment(StrEnum):
    SANDBOX = "sandbox"
    LIVE = "live"


FINAL_STATUSES = frozenset({PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CANCELLED})

#: The only moves a payment can make. A final payment never changes again; a failed *attempt* leaves the
#: payment pending (the customer may try again), so pending -> pending is not a change of status.
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.INITIATED: frozenset({PaymentStatus.PENDING, PaymentStatus.CANCELLED}),
    PaymentStatus.PENDING: frozenset({PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CANCELLED}),
    PaymentStatus.SUCCESS: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
}

#: The event each status emits when a payment enters it (pending emits none: it is not a webhook event).
EVENT_FOR_STATUS: dict[PaymentStatus, str] = {
    PaymentStatus.INITIATED: "payment.initiated",
    PaymentStatus.SUCCESS: "payment.success",
    PaymentStatus.FAILED: "payment.failed",
    PaymentStatus.CANCELLED: "payment.cancelled",
}


class TransitionRefused(DomainError):
    status = 409


def check_transition(current: PaymentStatus, target: PaymentStatus) -> None:
    """Raise ``TransitionRefused`` unless ``current -> target`` is a move the state machine allows."""
    if target not in TRANSITIONS[current]:
        raise TransitionRefused(f"A {current.value} payment cannot become {target.value}.")


def sources_of(target: PaymentStatus) -> frozenset[PaymentStatus]:
    """Every status from which ``target`` can be reached: the guard of a compare-and-set update."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


class ProcessRefused(DomainError):
    status = 422
    field = "status"


def check_processable(status: PaymentStatus) -> None:
    """Only a paid payment can be marked as processed (the merchant delivered the order)."""
    if status is not PaymentStatus.SUCCESS:
        raise ProcessRefused(f"Only a successful payment can be marked as processed; this one is {status.value}.")


def new_id(prefix: str = "", length: int = 16) -> str:
    """A random lowercase base36 identifier, like Moneroo's (which are 12 characters; ours are longer)."""
    return prefix + base36(length)


_last_stamp: tuple[int, str] = (-1, "")


def new_sorted_id(prefix: str) -> str:
    """The id of a row of a table that only grows (payments, events, attempts...): the millisecond it was made,
    8 base-36 digits, then 16 random ones, as unguessable as ``new_id``'s (a payment id opens its checkout).

    Random ids put each new row's key in a random page of the primary key's index, so a commit of N rows
    rewrote N index pages per table (to SQLite's log, and on PostgreSQL after each checkpoint); ids that grow
    with time land in the index's last page: +12 % initialize throughput on SQLite, with the database still
    small. The time they reveal is the row's ``created_at``, public anyway."""
    global _last_stamp
    ms = time.time_ns() // 1_000_000
    last_ms, stamp = _last_stamp
    if ms != last_ms:  # a few calls share each millisecond: its digits are made once
        # Fixed width, so ids compare like times (8 digits last until 2059; then they grow, still in order
        # among themselves).
        stamp = _to_base36(ms).rjust(8, "0")
        _last_stamp = (ms, stamp)
    return prefix + stamp + base36(16)


def _to_base36(value: int) -> str:
    digits = ""
    while value:
        value, digit = divmod(value, 36)
        digits = BASE36[digit] + digits
    return digits


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    """What the payments list is narrowed to."""

    statuses: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    customer_email: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
