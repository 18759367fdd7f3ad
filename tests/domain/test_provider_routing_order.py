"""The order accounts are tried in: payments by the methods an account collects, payouts by what its provider
pays out with."""

from __future__ import annotations

from datetime import datetime, timedelta

from cauri.domain.providers import payout_order, routing_order

T0 = datetime(2026, 1, 1)


def account(id_: str, provider: str, methods: list[str], priority: int = 100, age: int = 0,
            enabled: bool = True) -> dict[str, object]:  # fmt: skip
    return {"id": id_, "provider": provider, "methods": methods, "priority": priority,
            "created_at": T0 - timedelta(days=age), "is_enabled": enabled}  # fmt: skip


ACCOUNTS = [
    account("pa_c", "paystack", ["mtn_gh"], priority=50),
    account("pa_a", "pawapay", ["moov_bj"], priority=10),  # collects Moov only, pays out to MTN all the same
    account("pa_b", "fedapay", ["mtn_bj"], priority=10, age=3),  # older: first among equal priorities
    account("pa_d", "pawapay", ["mtn_bj"], priority=1, enabled=False),
]
PAYS_OUT = {"pawapay": frozenset({"mtn_bj", "moov_bj"}), "fedapay": frozenset({"mtn_bj"}),
            "paystack": frozenset({"mtn_gh"})}  # fmt: skip


def test_payouts_follow_the_provider_not_the_accounts_collection_methods() -> None:
    assert [a["id"] for a in payout_order(ACCOUNTS, PAYS_OUT, "mtn_bj")] == ["pa_b", "pa_a"]
    assert [a["id"] for a in payout_order(ACCOUNTS, PAYS_OUT, "moov_bj")] == ["pa_a"]
    assert [a["id"] for a in payout_order(ACCOUNTS, PAYS_OUT, "mtn_gh")] == ["pa_c"]
    assert payout_order(ACCOUNTS, {}, "mtn_bj") == []  # no installed connector pays out


def test_payments_follow_the_accounts_methods() -> None:
    assert [a["id"] for a in routing_order(ACCOUNTS, "mtn_bj")] == ["pa_b"]
    assert [a["id"] for a in routing_order(ACCOUNTS, "moov_bj")] == ["pa_a"]
