"""The initialize validator, called directly: property tests that it never crashes and never lets through
what the contract forbids."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cauri.domain.errors import ValidationFailed
from cauri.domain.payment_request import DESCRIPTION_MAX, PaymentRequest, validate_payment_request

VALID: dict[str, Any] = {
    "amount": 100,
    "currency": "XOF",
    "description": "Order 1",
    "return_url": "https://shop.example/return",
    "customer": {"email": "a@example.com", "first_name": "A", "last_name": "B"},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
FIELDS = [
    "amount",
    "currency",
    "description",
    "return_url",
    "customer",
    "metadata",
    "methods",
    "restrict_country_code",
    "restricted_phone",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), json_values))
def test_arbitrary_bodies_either_validate_or_fail_with_named_fields(body: dict[str, Any]) -> None:
    try:
        result = validate_payment_request(body)
    except ValidationFailed as exc:
        assert exc.errors is not None and exc.errors.by_field
        for field, messages in exc.errors.by_field.items():
            assert field.split(".")[0] in FIELDS
            assert messages and all(isinstance(m, str) and m.endswith(".") for m in messages)
        assert exc.message.startswith(next(iter(exc.errors.by_field.values()))[0])
        return
    assert isinstance(result, PaymentRequest)


@settings(max_examples=200)
@given(
    field=st.sampled_from(FIELDS),
    value=json_values,
)
def test_a_single_field_replaced_by_anything_keeps_the_invariants(field: str, value: Any) -> None:
    body = {**VALID, field: value}
    try:
        request = validate_payment_request(body)
    except ValidationFailed as exc:
        assert exc.errors is not None
        assert all(name.split(".")[0] == field or name == "restrict_country_code" for name in exc.errors.by_field)
        return
    assert isinstance(request.amount, int) and request.amount > 0
    assert 0 < len(request.description) <= DESCRIPTION_MAX
    assert request.return_url.startswith(("http://", "https://"))
    assert all(isinstance(v, str) for v in request.metadata.values())
    assert len(request.metadata) <= 10


@given(st.text(min_size=1, max_size=DESCRIPTION_MAX).filter(lambda s: s.strip() and s.isprintable()))
def test_any_printable_description_within_the_limit_is_kept(text: str) -> None:
    assert validate_payment_request({**VALID, "description": text}).description == text.strip()


def test_restrictions_are_mutually_exclusive() -> None:
    with pytest.raises(ValidationFailed) as failure:
        validate_payment_request(
            {
                **VALID,
                "restrict_country_code": "BJ",
                "restricted_phone": {"number": "22951345780", "country_code": "BJ"},
            }
        )
    assert failure.value.errors is not None
    assert "restrict_country_code" in failure.value.errors.by_field


def test_dialling_code_and_alpha2_name_the_same_country() -> None:
    by_dial = validate_payment_request({**VALID, "restricted_phone": {"number": "22951345780", "country_code": "229"}})
    by_code = validate_payment_request({**VALID, "restricted_phone": {"number": "22951345780", "country_code": "BJ"}})
    assert by_dial.restricted_phone == by_code.restricted_phone
    assert by_dial.restricted_phone is not None and by_dial.restricted_phone.country_code == "BJ"
