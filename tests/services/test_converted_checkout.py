"""A payment priced in one currency, paid with a method of another: what the checkout offers, what it checks on
the converted amount, and what an attempt locks (on a fake unit of work)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from cauri.connectors.base import ActionKind, AttemptRequest, NextAction, Started
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.sandbox import SandboxConnector
from cauri.domain.apps import App
from cauri.domain.clock import utcnow
from cauri.domain.rates import Rate, RateSource
from cauri.services import checkout
from tests.services.fakes import FakeUnitOfWork

SEED = {"amount": 100, "currency": "USD", "methods": ["qr_ngn", "bank_transfer_ngn"], "restrict_country_code": None}


class Recording(SandboxConnector):
    """A provider that accepts every attempt and keeps what it was asked to collect."""

    def __init__(self) -> None:
        super().__init__(b"secret", 0)
        self.requests: list[AttemptRequest] = []

    async def start(self, request: AttemptRequest, callback_url: str) -> Started:
        self.requests.append(request)
        return Started("ref-1", NextAction(ActionKind.INSTRUCTIONS, {"reference": "ref-1"}))


def app(margin: str = "0") -> App:
    now = utcnow()
    return App("app", "Shop", None, None, True, 0, 10, None, None, True, True, False, now, now, Decimal(margin))


async def seed_checkout(
    *, rate_age: timedelta | None = timedelta(hours=1), margin: str = "0", amount: int = 100
) -> tuple[FakeUnitOfWork, checkout.CheckoutState]:
    uow = FakeUnitOfWork()
    uow.add_payment("py_1", **{**SEED, "amount": amount})
    uow.apps.apps["app"] = app(margin)
    if rate_age is not None:
        rate = Rate("USD", "NGN", Decimal("1550.25"), RateSource.OPERATOR, utcnow() - rate_age)
        uow.rates.rows[("USD", "NGN", "operator")] = rate
    state = await checkout.load_checkout(uow, "py_1", rate_max_age=timedelta(hours=24))  # type: ignore[arg-type]
    assert state is not None
    return uow, state


REGISTRY = ConnectorRegistry(SandboxConnector(b"secret", 0))


async def test_the_seeds_request_offers_its_nigerian_methods_priced_in_naira() -> None:
    _uow, state = await seed_checkout()
    assert [m.code for m in checkout.payment_methods(state, REGISTRY)] == ["qr_ngn", "bank_transfer_ng"]
    converted = checkout.conversions(state, REGISTRY)
    assert {code: c.amount for code, c in converted.items()} == {"qr_ngn": 155_025, "bank_transfer_ng": 155_025}
    assert converted["qr_ngn"].currency == "NGN" and converted["qr_ngn"].rate.rate == Decimal("1550.25")
    assert checkout.unpriced_currencies(state, REGISTRY) == ()


async def test_a_rate_too_old_leaves_the_methods_out_and_says_which_currency() -> None:
    _uow, state = await seed_checkout(rate_age=timedelta(hours=25))
    assert checkout.payment_methods(state, REGISTRY) == []
    assert checkout.unpriced_currencies(state, REGISTRY) == ("NGN",)
    _uow, state = await seed_checkout(rate_age=None)
    assert checkout.payment_methods(state, REGISTRY) == []
    assert checkout.unpriced_currencies(state, REGISTRY) == ("NGN",)


async def test_a_method_that_goes_stale_between_page_and_post_is_refused() -> None:
    _uow, fresh = await seed_checkout()
    methods = checkout.payment_methods(fresh, REGISTRY)
    _uow, stale = await seed_checkout(rate_age=timedelta(hours=25))
    with pytest.raises(checkout.AttemptFormInvalid) as refused:
        checkout.check_attempt_form(stale, methods, checkout.AttemptForm("qr_ngn"))
    assert refused.value.errors == {"method": "Choose a payment method."}


async def test_the_methods_limits_apply_to_the_converted_amount() -> None:
    """Naira methods take 100 to 1,000,000 NGN: 600 USD (930,150 NGN) passes, 700 USD (1,085,175 NGN) does not,
    though both are within the limits when read as dollars."""
    _uow, state = await seed_checkout(amount=600)
    checked = checkout.check_attempt_form(
        state, checkout.payment_methods(state, REGISTRY), checkout.AttemptForm("qr_ngn")
    )
    assert checked.conversion is not None and checked.conversion.amount == 930_150
    _uow, state = await seed_checkout(amount=700)
    with pytest.raises(checkout.AttemptFormInvalid) as refused:
        checkout.check_attempt_form(state, checkout.payment_methods(state, REGISTRY), checkout.AttemptForm("qr_ngn"))
    assert refused.value.errors == {"method": "This amount cannot be paid with this method."}


async def test_the_attempt_locks_the_rate_and_the_provider_collects_naira() -> None:
    uow, state = await seed_checkout(margin="0.02")
    checked = checkout.check_attempt_form(
        state, checkout.payment_methods(state, REGISTRY), checkout.AttemptForm("qr_ngn")
    )
    provider = Recording()
    payer = checkout.Payer("127.0.0.1", "test", "en")
    action = await checkout.start_attempt(
        uow,
        ConnectorRegistry(provider),
        state,
        checked,
        payer,
        lambda name: f"http://127.0.0.1:9/{name}",  # type: ignore[arg-type]
    )
    assert action is ActionKind.INSTRUCTIONS
    [request] = provider.requests
    assert (request.amount, request.currency) == (158_126, "NGN")  # 155,025 + 2 % = 158,125.5, rounded half up
    [attempt] = uow.attempts.rows.values()
    assert {k: attempt[k] for k in ("rate", "correction_rate", "amount_debited", "currency_debited")} == {
        "rate": "1550.25", "correction_rate": "0.02", "amount_debited": 158_126, "currency_debited": "NGN",
    }  # fmt: skip
    # Changing the rate afterwards changes nothing for this attempt: it is locked.
    uow.rates.rows[("USD", "NGN", "operator")] = Rate("USD", "NGN", Decimal("1600"), RateSource.OPERATOR, utcnow())
    assert uow.attempts.rows[attempt["id"]]["amount_debited"] == 158_126


async def test_a_method_in_the_payments_own_currency_locks_nothing() -> None:
    uow = FakeUnitOfWork()
    uow.add_payment("py_1", methods=None, restrict_country_code=None)
    uow.apps.apps["app"] = app("0.02")
    state = await checkout.load_checkout(uow, "py_1")  # type: ignore[arg-type]
    assert state is not None and state.rates == {}
    checked = checkout.check_attempt_form(
        state, checkout.payment_methods(state, REGISTRY), checkout.AttemptForm("mtn_bj", phone="4149518161")
    )
    provider = Recording()
    await checkout.start_attempt(
        uow,
        ConnectorRegistry(provider),
        state,
        checked,
        checkout.Payer("127.0.0.1", "t", "fr"),
        lambda n: n,  # type: ignore[arg-type]
    )
    assert (provider.requests[0].amount, provider.requests[0].currency) == (5000, "XOF")
    [attempt] = uow.attempts.rows.values()
    assert "rate" not in attempt and "amount_debited" not in attempt
