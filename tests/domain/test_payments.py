"""The state machine: every allowed move, every refused one, and final states that never change."""

from __future__ import annotations

import itertools
import re

import pytest

from cauri.domain.payments import (
    FINAL_STATUSES,
    TRANSITIONS,
    PaymentStatus,
    ProcessRefused,
    TransitionRefused,
    check_processable,
    check_transition,
    new_id,
    sources_of,
)

ALLOWED = {
    (PaymentStatus.INITIATED, PaymentStatus.PENDING),
    (PaymentStatus.INITIATED, PaymentStatus.CANCELLED),
    (PaymentStatus.PENDING, PaymentStatus.SUCCESS),
    (PaymentStatus.PENDING, PaymentStatus.FAILED),
    (PaymentStatus.PENDING, PaymentStatus.CANCELLED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(PaymentStatus, PaymentStatus)))
def test_only_the_listed_moves_are_allowed(current: PaymentStatus, target: PaymentStatus) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(TransitionRefused):
            check_transition(current, target)


def test_final_statuses_have_no_way_out() -> None:
    assert FINAL_STATUSES == {PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CANCELLED}
    for status in FINAL_STATUSES:
        assert TRANSITIONS[status] == frozenset()
        assert status.is_final
    assert sources_of(PaymentStatus.SUCCESS) == {PaymentStatus.PENDING}


def test_only_paid_payments_can_be_processed() -> None:
    check_processable(PaymentStatus.SUCCESS)
    for status in set(PaymentStatus) - {PaymentStatus.SUCCESS}:
        with pytest.raises(ProcessRefused):
            check_processable(status)


def test_ids_are_random_lowercase_base36() -> None:
    ids = {new_id("py_") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"py_[0-9a-z]{16}", i) for i in ids)
