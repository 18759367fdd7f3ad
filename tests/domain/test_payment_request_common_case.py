"""The validator's fast path for the common request must answer exactly as the full rules do, or step aside."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cauri.domain.errors import ValidationFailed
from cauri.domain.payment_request import _common_case, _validate, validate_payment_request

COMMON: dict[str, Any] = {
    "amount": 5000,
    "currency": "XOF",
    "description": "Order #123",
    "customer": {"email": "Awa@Example.COM", "first_name": " Awa ", "last_name": "Dossou"},
    "return_url": "https://shop.example/return?order=123",
    "metadata": {"order_id": "123"},
}
TOP = ["amount", "currency", "description", "return_url", "customer", "metadata", "methods",
       "restrict_country_code", "restricted_phone"]  # fmt: skip
CUSTOMER = ["email", "first_name", "last_name", "phone", "address", "city", "state", "country", "zip"]

# Values near the edges of the rules: padding, control characters, case, lengths, types that JSON allows.
tricky = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=10**13),
    st.floats(allow_nan=False),
    st.sampled_from(["", " ", "XOF", "xof", " XOF", "ZZZ", "US", "a@b.co", "x@test", "a@xn--p1ai.com", "a b@c.de",
                     "https://x.example", "http://x.example:99999", "ftp://x.example", "https://", "http://x .io",
                     "a\x01b", "\u00a0", "Awa\u2028", "x" * 101, "y" * 156, "BJ", "229", "mtn_bj"]),
    st.text(max_size=12),
    st.lists(st.sampled_from(["mtn_bj", "nope", 3]), max_size=2),
    st.dictionaries(st.sampled_from(["", "k", "order_id", "z" * 41, "k\x00", "\x85"]),
                    st.one_of(st.text(max_size=5), st.integers(), st.sampled_from(["v" * 501, "1\x002", "\u2028"])),
                    max_size=3),
)  # fmt: skip


def _outcome(validate: Any, body: dict[str, Any]) -> Any:
    try:
        return validate(body)
    except ValidationFailed as exc:
        return ("failed", exc.errors.by_field if exc.errors else None)


def test_the_common_request_takes_the_fast_path() -> None:
    fast = _common_case(COMMON)
    assert fast is not None
    assert fast == _validate(COMMON)
    assert fast.customer.email == "Awa@example.com" and fast.customer.first_name == "Awa"


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(
    top=st.dictionaries(st.sampled_from(TOP), tricky, max_size=3),
    customer=st.dictionaries(st.sampled_from(CUSTOMER), tricky, max_size=3),
    drop=st.sets(st.sampled_from(TOP)),
)
def test_the_fast_path_agrees_with_the_full_rules(
    top: dict[str, Any], customer: dict[str, Any], drop: set[str]
) -> None:
    body = {**COMMON, "customer": {**COMMON["customer"], **customer}, **top}
    for name in drop:
        body.pop(name, None)
    fast = _common_case(body)
    full = _outcome(_validate, body)
    if fast is not None:
        assert fast == full
    assert _outcome(validate_payment_request, body) == full
