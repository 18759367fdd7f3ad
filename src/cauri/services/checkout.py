"""The hosted checkout's operations: show a payment, start an attempt, apply a connector's outcome, cancel,
expire, and reconcile attempts whose provider went silent. Every change of status goes through the payment's
state machine (``payments.move``) and the attempt's compare-and-set (``attempts.finish``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Row

from cauri import metrics
from cauri.connectors.base import (
    ActionKind,
    AttemptRequest,
    CallbackRejected,
    Outcome,
)
from cauri.connectors.registry import ConnectorRegistry
from cauri.connectors.router import Candidate, Step, route
from cauri.domain import payer
from cauri.domain.apps import App, Scope
from cauri.domain.attempts import MAX_ATTEMPTS_PER_PAYMENT, AttemptRefused, AttemptStatus
from cauri.domain.checkout import PricedMethods, foreign_currencies, offered_methods, price_methods
from cauri.domain.clock import as_utc, utcnow
from cauri.domain.errors import NotFound
from cauri.domain.messages import N_
from cauri.domain.methods import PHONE_KINDS, MethodKind, PaymentMethod
from cauri.domain.networks import predict_network
from cauri.domain.payments import FINAL_STATUSES, Environment, PaymentStatus, TransitionRefused, new_sorted_id
from cauri.domain.rates import DEFAULT_MAX_AGE, Conversion, Rate, decimal_text
from cauri.services import providers
from cauri.services.rates import fresh_rates
from cauri.services.runtime import UnitOfWork
from cauri.store.views import checkout_url

__all__ = ["CallbackRejected"]

log = logging.getLogger("cauri.checkout")
#: The failure code of an attempt the provider says succeeded for another amount or currency than the payment's.
AMOUNT_MISMATCH = "amount_mismatch"
_FINAL = frozenset(s.value for s in FINAL_STATUSES)
#: What the checkout says when a provider cannot be reached at all; the customer may try again.
PROVIDER_UNREACHABLE = N_("The payment provider could not be reached. Try again.")


@dataclass(frozen=True, slots=True)
class CheckoutState:
    """A payment as its checkout page shows it: the payment, its app and its latest attempt."""

    payment: Row[Any]
    app: App
    attempt: Row[Any] | None
    #: Live payments: the methods the app's provider accounts serve (None for sandbox payments, which the
    #: sandbox connector serves whatever the accounts).
    served: frozenset[str] | None = None
    #: Fresh rates from the payment's currency to those of the other-currency methods it names (None: no rate).
    rates: Mapping[str, Rate | None] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.payment.status in _FINAL

    @property
    def is_waiting(self) -> bool:
        return not self.is_final and self.attempt is not None and self.attempt.status == AttemptStatus.PENDING

    @property
    def version(self) -> str:
        """Changes whenever the page would show something else: the page's status poll compares it."""
        p, a = self.payment, self.attempt
        return f"{p.status}:{a.id}:{a.status}" if a is not None else str(p.status)


async def load_checkout(
    uow: UnitOfWork, payment_id: str, *, rate_max_age: timedelta = DEFAULT_MAX_AGE
) -> CheckoutState | None:
    """The payment, its app and its latest attempt; a payment past its app's delay is cancelled on sight. An
    open payment naming methods in other currencies comes with the rates that price them now."""
    async with uow.reading():
        payment = await uow.payments.find(payment_id)
        if payment is None:
            return None
        app = await uow.apps.get(payment.app_id)
        attempt = await uow.attempts.latest(payment_id)
    served = None
    if payment.environment == Environment.LIVE.value and payment.status not in _FINAL:
        served = await providers.served(uow, Scope(payment.app_id, payment.environment))
    deadline = as_utc(payment.initiated_at) + timedelta(minutes=app.expiry_minutes)
    if payment.status not in _FINAL and deadline <= utcnow():
        try:
            await cancel_payment(uow, payment_id, N_("Expired."))
        except TransitionRefused:
            pass  # finished meanwhile
        return await load_checkout(uow, payment_id, rate_max_age=rate_max_age)
    rates: Mapping[str, Rate | None] = {}
    # Only a page that offers methods needs rates (not a final one, nor the status poll of an attempt under way).
    if payment.status not in _FINAL and (attempt is None or attempt.status != AttemptStatus.PENDING.value):
        others = foreign_currencies(payment._mapping, app.enabled_methods)
        if others:
            rates = await fresh_rates(uow, payment.currency, others, rate_max_age)
    return CheckoutState(payment, app, attempt, served, rates)


def payment_methods(state: CheckoutState, connectors: ConnectorRegistry) -> list[PaymentMethod]:
    """The methods this payment may be paid with: its filters, the app's, a connector to serve each (the
    sandbox's for sandbox payments; an enabled provider account's for live ones), and for a method in another
    currency, a fresh rate to price it."""
    return _priced(state, connectors).methods


def conversions(state: CheckoutState, connectors: ConnectorRegistry) -> dict[str, Conversion]:
    """What each offered method in another currency would debit, by method code (with the app's margin)."""
    return _priced(state, connectors).conversions


def unpriced_currencies(state: CheckoutState, connectors: ConnectorRegistry) -> tuple[str, ...]:
    """The currencies whose methods the payment names but the page leaves out for want of a fresh rate."""
    return _priced(state, connectors).unpriced


def _priced(state: CheckoutState, connectors: ConnectorRegistry) -> PricedMethods:
    payment = state.payment
    offered = offered_methods(payment._mapping, state.app.enabled_methods, other_currencies=True)
    if payment.environment != Environment.SANDBOX.value:
        offered = [m for m in offered if m.code in (state.served or ())]
    return price_methods(payment.amount, payment.currency, offered, state.rates, state.app.rate_margin)


@dataclass(frozen=True, slots=True)
class AttemptForm:
    """What the customer submitted (raw), and who they are."""

    method: str
    phone: str = ""
    card_number: str = ""
    card_expiry: str = ""
    card_cvc: str = ""
    country: str = ""  # the card holder's country, when the payment does not say
    #: The country chosen on the page: numbers typed without a country code are read there, and with no
    #: method chosen, the number's network picks the method.
    region: str = ""


@dataclass(frozen=True, slots=True)
class Payer:
    ip: str
    user_agent: str
    locale: str


@dataclass(frozen=True, slots=True)
class CheckedAttempt:
    method: PaymentMethod
    phone: str | None
    card_number: str | None
    card_expiry: str | None
    #: For a method in another currency: the rate, margin and amount locked when the attempt starts.
    conversion: Conversion | None = None


class AttemptFormInvalid(Exception):
    """The form cannot start an attempt; ``errors`` maps fields to messages (``N_`` literals: the page translates)."""

    def __init__(self, errors: dict[str, str], status: int = 422) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status = status


def check_attempt_form(state: CheckoutState, methods: list[PaymentMethod], form: AttemptForm) -> CheckedAttempt:
    """Validate the chosen method and what it needs (number, card, country) against the payment's rules."""
    payment = state.payment
    code = form.method or _predicted(state, methods, form)
    method = next((m for m in methods if m.code == code), None)
    if method is None:
        unknown_network = not form.method and form.phone.strip()
        raise AttemptFormInvalid({"method": N_("Choose your network.") if unknown_network
                                  else N_("Choose a payment method.")})  # fmt: skip
    errors: dict[str, str] = {}
    converted = None
    if method.currency != payment.currency:
        converted = price_methods(
            payment.amount, payment.currency, [method], state.rates, state.app.rate_margin
        ).conversions.get(method.code)
        if converted is None:  # the rate went stale since the page was shown
            raise AttemptFormInvalid({"method": N_("Choose a payment method.")})
    # The method's limits are in its own currency: a converted payment is checked on the amount debited.
    if not method.min_amount <= (converted.amount if converted else payment.amount) <= method.max_amount:
        errors["method"] = N_("This amount cannot be paid with this method.")
    sandbox = payment.environment == "sandbox"
    phone = card_number = card_expiry = None
    region = method.countries[0] if len(method.countries) == 1 else (form.region or None)
    if method.kind in PHONE_KINDS:
        restricted = payment.restricted_phone
        typed = form.phone.strip() or payment.customer.get("phone") or ""
        if restricted:
            phone = payer.normalize_phone(restricted["number"], restricted["country_code"], sandbox=True)
            if typed and payer.normalize_phone(typed, region, sandbox=sandbox) not in (phone, restricted["number"]):
                errors["phone"] = N_("This payment can only be paid from the number shown.")
        elif not typed:
            mobile_money = method.kind is MethodKind.MOBILE_MONEY  # USSD is dialled from any phone
            errors["phone"] = N_("Enter your mobile money number.") if mobile_money else N_("Enter your phone number.")
        else:
            phone = payer.normalize_phone(typed, region, sandbox=sandbox)
            if phone is None:
                errors["phone"] = N_("This is not a valid phone number for this method.")
    if method.kind is MethodKind.CARD and sandbox:
        # Live cards are paid on the processor's own page (``ActionKind.REDIRECT``): Cauri never asks for, sees
        # or carries a live card number. The sandbox's stand-in asks for its test cards.
        card_number = "".join(c for c in form.card_number if c.isdigit())
        card_expiry = form.card_expiry
        if not payer.luhn_valid(card_number):
            errors["card_number"] = N_("Check the card number.")
        if not payer.expiry_valid(card_expiry):
            errors["card_expiry"] = N_("Check the expiry date (MM/YY).")
        if not form.card_cvc.isdigit() or len(form.card_cvc) not in (3, 4):
            errors["card_cvc"] = N_("Check the security code.")
        if "country" in method.customer_fields and not payment.customer.get("country_code"):
            if not payer.country_valid(form.country):
                errors["country"] = N_("Choose your country.")
    if errors:
        raise AttemptFormInvalid(errors)
    return CheckedAttempt(method, phone, card_number, card_expiry, converted)


def _predicted(state: CheckoutState, methods: list[PaymentMethod], form: AttemptForm) -> str:
    """No method chosen (a page without scripts, or one that could not tell): the typed number's network, read
    in the chosen country, among the methods that pay from a phone there."""
    typed = form.phone.strip() or state.payment.customer.get("phone") or ""
    if not typed or not form.region:
        return ""
    candidates = [m for m in methods if m.kind in PHONE_KINDS and m.serves_country(form.region)]
    return predict_network(typed, form.region, candidates) or ""


async def start_attempt(
    uow: UnitOfWork,
    connectors: ConnectorRegistry,
    state: CheckoutState,
    checked: CheckedAttempt,
    payer_info: Payer,
    callback_url: Callable[[str], str],
) -> ActionKind | None:
    """Record the attempt (the payment becomes pending), then route it: the first account serving the method
    that takes it collects (``connectors.router``); returns what the page shows next, or None when no provider
    could be reached (the attempt then failed) or one answered ambiguously (left to reconciliation). Refused
    (``AttemptRefused``) when the payment is final, an attempt is under way, or past the attempts allowed."""
    payment = state.payment
    scope = Scope(payment.app_id, payment.environment)
    candidates = await providers.candidates(uow, connectors, scope, checked.method.code)
    if not candidates:
        raise AttemptFormInvalid({"method": N_("Choose a payment method.")})
    now = utcnow()
    attempt_id = new_sorted_id("att_")
    async with uow:
        locked = await uow.payments.find(payment.id, lock=True)
        assert locked is not None
        if locked.status in _FINAL:
            raise AttemptRefused(N_("This payment has already ended."))
        total, pending = await uow.attempts.counts(payment.id)
        if pending:
            raise AttemptRefused(N_("A payment attempt is already under way."))
        if total >= MAX_ATTEMPTS_PER_PAYMENT:
            raise AttemptRefused(N_("Too many attempts for this payment."))
        await uow.attempts.add(
            {
                "id": attempt_id,
                "payment_id": payment.id,
                "method": checked.method.code,
                "connector": candidates[0].connector.name,
                "status": AttemptStatus.PENDING.value,
                "phone": checked.phone,
                "card_last4": checked.card_number[-4:] if checked.card_number else None,
                "client_ip": payer_info.ip,
                "user_agent": payer_info.user_agent[:500],
                "locale": payer_info.locale,
                **_locked_rate(checked.conversion),
                "created_at": now,
                "updated_at": now,
            }
        )
        if locked.status == PaymentStatus.INITIATED.value:
            await uow.payments.move(payment.id, scope, PaymentStatus.PENDING)
        await uow.commit()
    # The provider collects in the method's currency: the converted amount when the payment is priced in another.
    converted = checked.conversion
    amount, currency = (converted.amount, converted.currency) if converted else (payment.amount, payment.currency)
    request = AttemptRequest(
        attempt_id, payment.id, checked.method, amount, currency, checked.phone, checked.card_number,
        checked.card_expiry, return_url=checkout_url(uow.public_url, payment.id),
        customer_email=payment.customer_email or None,
    )  # fmt: skip

    async def move_to(candidate: Candidate, steps: list[Step]) -> bool:
        async with uow:
            moved = await uow.attempts.record_routing(attempt_id, steps, candidate.connector.name)
            await uow.commit()
        return moved

    routed = await route(candidates, request, callback_url, connectors.breakers, move_to)
    async with uow:
        await uow.attempts.record_routing(attempt_id, routed.steps)
        if routed.started is not None:
            action = {"kind": routed.started.action.kind.value, "data": dict(routed.started.action.data)}
            await uow.attempts.record_started(attempt_id, routed.started.reference, action)
        await uow.commit()
    if routed.started is not None:
        return routed.started.action.kind
    if not routed.ambiguous:
        # Nothing was sent anywhere: the attempt fails and the customer may try again, now or with another method.
        outcome = Outcome(attempt_id, AttemptStatus.FAILED, "provider_unavailable", PROVIDER_UNREACHABLE)
        await apply_outcome(uow, routed.holder.connector.name, outcome)
    # Ambiguous: the provider may have accepted it (a timeout after sending, say): the attempt stays pending and
    # the reconciliation job asks the provider; failing it here could drop a payment the customer made.
    return None


def _locked_rate(converted: Conversion | None) -> dict[str, Any]:
    """The attempt's columns that lock a conversion (all null for a method in the payment's own currency)."""
    if converted is None:
        return {}
    return {
        "rate": decimal_text(converted.rate.rate),
        "correction_rate": decimal_text(converted.margin),
        "amount_debited": converted.amount,
        "currency_debited": converted.currency,
    }


def authentication_due(state: CheckoutState) -> bool:
    """Whether the pending attempt waits for the customer's card authentication (not yet answered)."""
    attempt = state.attempt
    if attempt is None or attempt.status != AttemptStatus.PENDING.value or state.is_final:
        return False
    action = attempt.next_action or {}
    return action.get("kind") == ActionKind.AUTHENTICATE.value and not (action.get("data") or {}).get("answered")


async def confirm_authentication(
    uow: UnitOfWork,
    connectors: ConnectorRegistry,
    state: CheckoutState,
    approved: bool,
    callback_url: Callable[[str], str],
) -> None:
    """Cards: the customer finished (or refused) the authentication step of the pending attempt. The answer is
    recorded on the attempt, so the page shows the step once and then waits for the outcome."""
    attempt = state.attempt
    if attempt is None or not authentication_due(state):
        return
    connector = await connectors.by_name(attempt.connector)
    if connector is not None:
        await connector.confirm_authentication(attempt._mapping, approved, callback_url(connector.name))
    action = dict(attempt.next_action or {})
    action["data"] = {**(action.get("data") or {}), "answered": "approve" if approved else "decline"}
    async with uow:
        await uow.attempts.record_started(attempt.id, attempt.provider_reference or "", action)
        await uow.commit()


async def apply_outcome(uow: UnitOfWork, connector: str, outcome: Outcome) -> bool:
    """Apply a connector's outcome once: a compare-and-set on the attempt (which must be that connector's),
    then the payment's move and its event, in one transaction. Returns False when nothing changed (a repeated
    or late notification, another connector's attempt, or no final outcome yet)."""
    if outcome.status is AttemptStatus.PENDING:
        return False
    async with uow:
        if outcome.status is AttemptStatus.SUCCESS and (outcome.amount is not None or outcome.currency is not None):
            outcome = await _checked_amount(uow, connector, outcome)
        finished = await uow.attempts.finish(
            outcome.attempt_id,
            connector,
            outcome.status,
            outcome.failure_code,
            outcome.failure_message,
            outcome.reference,
        )
        if finished is None:
            return False
        payment_id, method = finished
        payment = await uow.payments.find(payment_id)
        assert payment is not None
        if outcome.status is AttemptStatus.SUCCESS:
            try:
                await uow.payments.move(payment_id, Scope(payment.app_id, payment.environment), PaymentStatus.SUCCESS)
            except TransitionRefused:
                # Paid after the payment was cancelled or expired: keep the attempt's truth for a refund.
                log.error("attempt succeeded on a final payment", extra={"attempt_id": outcome.attempt_id})
        else:
            # A failed attempt leaves the payment open for another try, and is announced on its own.
            uow.emit("payment.failed", payment_id)
        await uow.commit()
    metrics.count_attempt(method, outcome.status.value)  # after the commit: a rolled-back outcome never happened
    return True


async def _checked_amount(uow: UnitOfWork, connector: str, outcome: Outcome) -> Outcome:
    """A success for another amount or currency than the attempt asked for (the payment's, or the amount
    debited in the method's currency when it was converted) is not a success of this payment: the attempt fails
    (closed, rather than left pending, so reconciliation does not ask forever) and an operator is told, since
    the provider holds money that may need refunding."""
    charge = await uow.attempts.charge_of(outcome.attempt_id, connector)
    payment = None if charge is None else await uow.payments.find(charge.payment_id)
    if charge is None or payment is None:
        return outcome  # not this connector's attempt: ``finish`` changes nothing
    expected_amount = payment.amount if charge.amount_debited is None else charge.amount_debited
    expected_currency = charge.currency_debited or payment.currency
    amount_ok = outcome.amount is None or outcome.amount == expected_amount
    currency_ok = outcome.currency is None or outcome.currency.upper() == expected_currency
    if amount_ok and currency_ok:
        return outcome
    log.error(
        "provider reported a success for another amount",
        extra={"attempt_id": outcome.attempt_id, "connector": connector, "reported_amount": outcome.amount,
               "reported_currency": outcome.currency, "expected_amount": expected_amount,
               "expected_currency": expected_currency},
    )  # fmt: skip
    # The provider holds money that may need refunding: its transaction keeps its name on the attempt.
    failed = N_("A payment attempt failed.")
    return Outcome(outcome.attempt_id, AttemptStatus.FAILED, AMOUNT_MISMATCH, failed, reference=outcome.reference)


async def cancel_payment(uow: UnitOfWork, payment_id: str, reason: str) -> None:
    """Cancel (by the customer, or on expiry); an attempt still under way fails with ``reason``.
    ``TransitionRefused`` when the payment has already ended."""
    async with uow:
        payment = await uow.payments.find(payment_id)
        if payment is None:
            raise NotFound("Payment transaction not found.")
        await uow.attempts.fail_pending([payment_id], "cancelled", reason)
        await uow.payments.move(payment_id, Scope(payment.app_id, payment.environment), PaymentStatus.CANCELLED)
        await uow.commit()


async def abandon_attempt(uow: UnitOfWork, payment_id: str) -> bool:
    """The customer leaves the attempt under way to try another method: it fails (and is announced, as every
    failed attempt is); the payment stays open. False when no attempt was under way."""
    async with uow:
        payment = await uow.payments.find(payment_id, lock=True)
        if payment is None or payment.status in _FINAL:
            return False
        _total, pending = await uow.attempts.counts(payment_id)
        if not pending:
            return False
        await uow.attempts.fail_pending([payment_id], "abandoned", N_("You chose to try another method."))
        uow.emit("payment.failed", payment_id)
        await uow.commit()
    return True


async def expire_payments(uow: UnitOfWork, *, batch: int = 100, rounds: int = 50) -> int:
    """Cancel the payments left unpaid past their app's delay, ``batch`` at a time (short transactions: a
    callback or a cancel waits on few row locks, however many payments are due); returns how many."""
    expired = 0
    for _ in range(rounds):
        now = utcnow()
        async with uow:
            due = await uow.payments.due_for_expiry(now, batch)
            if not due:
                break
            # Attempts before payments: the lock order of every other path (outcomes, cancels), so no deadlock.
            await uow.attempts.fail_pending(due, "cancelled", N_("Expired."))
            expired += len(await uow.payments.expire(due, now))
            await uow.commit()
        if len(due) < batch:
            break
    return expired


async def reconcile(
    uow: UnitOfWork, connectors: ConnectorRegistry, *, older_than: timedelta, lease: timedelta, limit: int = 100
) -> int:
    """Ask connectors about attempts pending longer than ``older_than`` and apply what they say. The attempts
    are claimed with a lease first, so no two workers ask a provider about the same attempt at once."""
    now = utcnow()
    async with uow:
        claimed = await uow.attempts.claim_stale(now - older_than, now + lease, limit)
        await uow.commit()
    applied = 0
    for attempt in claimed:
        connector = await connectors.by_name(attempt.connector)
        if connector is None:
            continue
        try:
            outcome = await connector.fetch_status(attempt._mapping)
        except Exception:
            log.exception("status check failed", extra={"attempt_id": attempt.id})
            continue
        if outcome.attempt_id == attempt.id and await apply_outcome(uow, connector.name, outcome):
            applied += 1
    return applied
