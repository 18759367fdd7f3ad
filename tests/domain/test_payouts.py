"""The payout request's rules (failing and passing cases) and the payout's state machine."""

from __future__ import annotations

from typing import Any

import pytest

from cauri.domain.errors import ValidationFailed
from cauri.domain.methods import CATALOGUE
from cauri.domain.payout_request import validate_payout_request
from cauri.domain.payouts import (
    PAYOUT_EVENT_FOR_STATUS,
    PayoutStatus,
    PayoutTransitionRefused,
    check_payout_transition,
    payout_sources_of,
)


def body(**overrides: Any) -> dict[str, Any]:
    """The official PHP SDK's body, as the issue quotes it (``None`` removes a field)."""
    data: dict[str, Any] = {
        "amount": 500,
        "currency": "XOF",
        "description": "Supplier payment",
        "method": "mtn_bj",
        "customer": {"email": "awa@example.com", "first_name": "Awa", "last_name": "Dossou"},
        "recipient": {"msisdn": "22951345020"},
        "metadata": {"payout_request": "123"},
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def errors_of(data: dict[str, Any], *, sandbox: bool = True) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as refused:
        validate_payout_request(data, sandbox=sandbox)
    assert refused.value.errors is not None
    return refused.value.errors.by_field


def test_the_php_sdks_body_is_accepted_in_the_sandbox() -> None:
    request = validate_payout_request(body(), sandbox=True)
    assert (request.amount, request.currency, request.method) == (500, "XOF", "mtn_bj")
    assert request.recipient == {"msisdn": "22951345020"}
    assert request.metadata == {"payout_request": "123"}


def test_an_empty_body_names_every_required_field() -> None:
    assert set(errors_of({})) == {"amount", "currency", "description", "method", "customer", "recipient"}


def test_amounts_follow_the_payments_rules() -> None:
    assert validate_payout_request(body(amount="500.00"), sandbox=True).amount == 500
    assert errors_of(body(amount=0))["amount"] == ["The amount field must be greater than 0."]
    assert errors_of(body(amount=10.5))["amount"] == ["The amount field must be an integer."]


def test_the_method_must_be_a_payout_method() -> None:
    assert "method" in errors_of(body(method="card_xof"))  # a payment method, not a payout one
    assert "method" in errors_of(body(method="mtn_bj\x00"))
    assert validate_payout_request(body(method="MTN_BJ"), sandbox=True).method == "mtn_bj"


def test_the_currency_must_be_the_methods() -> None:
    assert errors_of(body(currency="GHS")) == {"currency": ["The currency field must be XOF for the method mtn_bj."]}
    assert "currency" in errors_of(body(currency="EUR"))  # no payout method pays euros
    assert validate_payout_request(body(currency="xof"), sandbox=True).currency == "XOF"


@pytest.mark.parametrize(
    ("recipient", "problem"),
    [
        (None, "The recipient field is required."),
        ("22951345020", "The recipient field must be an object."),
        ({}, "The recipient.msisdn field is required for the method mtn_bj."),
        ({"msisdn": "229 51 34 50 20"}, "without + or spaces"),
        ({"msisdn": "22551345020"}, "must be a number of Benin in international format, starting with 229"),
        ({"msisdn": "229513"}, "starting with 229"),
    ],
)
def test_mobile_money_needs_an_msisdn_of_the_methods_country(recipient: Any, problem: str) -> None:
    found = errors_of(body(recipient=recipient))
    [(field, [message])] = found.items()
    assert field.startswith("recipient") and problem in message


def test_live_numbers_must_be_valid_numbers_of_the_country() -> None:
    # Benin's numbers gained a leading 01 in 2024: the old eight-digit form is no longer a valid number.
    assert "valid phone number of Benin" in errors_of(body(), sandbox=False)["recipient.msisdn"][0]
    live = validate_payout_request(body(recipient={"msisdn": "+2290151345020"}), sandbox=False)
    assert live.recipient == {"msisdn": "2290151345020"}  # "+" tolerated, stored without it


def test_the_sandboxs_test_numbers_are_accepted_as_they_are() -> None:
    for number in ("4149518161", "4149518162", "4149518163", "2294149518161", 4149518161):
        assert validate_payout_request(body(recipient={"msisdn": number}), sandbox=True).recipient["msisdn"]
    assert "recipient.msisdn" in errors_of(body(recipient={"msisdn": "4149518161"}), sandbox=False)


def test_the_test_method_needs_an_account_number() -> None:
    demo = body(method="moneroo_payout_demo", currency="USD", recipient={"account_number": "4149518161"})
    assert validate_payout_request(demo, sandbox=True).recipient == {"account_number": "4149518161"}
    missing = errors_of({**demo, "recipient": {"msisdn": "4149518161"}})
    assert missing == {
        "recipient.account_number": [
            "The recipient.account_number field is required for the method moneroo_payout_demo."
        ]
    }


def test_customer_and_metadata_follow_the_payments_rules() -> None:
    found = errors_of(body(customer={"email": "nope", "first_name": "", "last_name": "D"}, metadata={"k": 1}))
    assert set(found) == {"customer.email", "customer.first_name", "metadata.k"}


def test_every_payout_method_of_the_contract_is_in_the_catalogue() -> None:
    assert len(CATALOGUE.payout_methods) == 41
    assert CATALOGUE.payout_methods["airtel_cd"].currency == "CDF"
    assert {f.name for m in CATALOGUE.payout_methods.values() for f in m.fields} == {"msisdn", "account_number"}


def test_the_state_machine_moves_only_forward() -> None:
    check_payout_transition(PayoutStatus.INITIATED, PayoutStatus.PENDING)
    check_payout_transition(PayoutStatus.PENDING, PayoutStatus.SUCCESS)
    check_payout_transition(PayoutStatus.PENDING, PayoutStatus.FAILED)
    for current, target in [
        (PayoutStatus.INITIATED, PayoutStatus.SUCCESS),
        (PayoutStatus.SUCCESS, PayoutStatus.FAILED),
        (PayoutStatus.FAILED, PayoutStatus.PENDING),
        (PayoutStatus.PENDING, PayoutStatus.INITIATED),
    ]:
        with pytest.raises(PayoutTransitionRefused):
            check_payout_transition(current, target)
    assert payout_sources_of(PayoutStatus.SUCCESS) == {PayoutStatus.PENDING}
    assert set(PAYOUT_EVENT_FOR_STATUS.values()) == {"payout.initiated", "payout.success", "payout.failed"}
