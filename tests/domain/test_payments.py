"""The state machine: every allowed move, every refused one, and final states that never change."""

from __future__ import annotations

import itertools
import re
from types import SimpleNamespace

import pytest

from cauri.domain import payments
from cauri.domain.payments import (
    FINAL_STATUSES,
    TRANSITIONS,
    PaymentStatus,
    ProcessRefused,
    TransitionRefused,
    check_processable,
    check_transition,
    new_id,
    new_sorted_id,
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


def test_sorted_ids_follow_the_clock_and_keep_sixteen_random_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    moments = iter([1_796_000_000_000, 1_796_000_000_000, 1_796_000_000_001, 1_796_000_003_600])
    monkeypatch.setattr(payments, "time", SimpleNamespace(time_ns=lambda: next(moments) * 1_000_000))
    ids = [new_sorted_id("py_") for _ in range(4)]
    # 1,796,000,000,000 ms (2026-11-30) in base 36, eight digits wide, then the random part.
    assert all(re.fullmatch(r"py_mx2k114w[0-9a-z]{16}", i) for i in ids[:2])
    assert ids[0][11:] != ids[1][11:]  # the same millisecond: only the random part tells them apart
    assert ids[2].startswith("py_mx2k114x") and ids[3].startswith("py_mx2k13ww")
    assert ids[2:] == sorted(ids[2:]) and max(ids[:2]) < ids[2]  # later milliseconds sort after
    assert len(ids[0]) == 27  # within the tables' 32 characters with the longest prefix ("evt_")


def test_sorted_ids_are_padded_to_eight_digits_and_grow_past_them(monkeypatch: pytest.MonkeyPatch) -> None:
    moments = iter([5_000, 36**8 - 1, 36**8, 36**8 + 1])
    monkeypatch.setattr(payments, "time", SimpleNamespace(time_ns=lambda: next(moments) * 1_000_000))
    early, last_narrow, first_wide, second_wide = (new_sorted_id("evt_") for _ in range(4))
    assert early.startswith("evt_000003uw") and early < last_narrow and last_narrow.startswith("evt_zzzzzzzz")
    # In 2059 the stamp takes a ninth digit: those ids sort among themselves (nothing orders rows by id alone).
    assert first_wide.startswith("evt_100000000") and first_wide < second_wide and len(second_wide) == 29
