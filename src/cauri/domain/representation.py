"""The API's objects as Moneroo's clients read them (verify, retrieve, list, webhook bodies), typed once.

Each shape is a ``TypedDict``: at run time the builders below return plain dicts that orjson serialises
directly, so the hot paths pay nothing for the types (``bench/representation.py`` measures the
alternatives). The same classes are the single source of the OpenAPI document's response schemas
(``cauri.api.openapi``): pydantic reads them only to write JSON Schema, from the field docstrings and the
few ``Field`` annotations below, and never validates an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal, NotRequired, Protocol

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict  # pydantic needs this TypedDict before Python 3.12

from cauri.domain import methods
from cauri.domain.attempts import AttemptStatus
from cauri.domain.countries import country_name
from cauri.domain.methods import CATALOGUE, format_amount
from cauri.domain.payments import Environment, PaymentStatus
from cauri.domain.providers import provider_name
from cauri.domain.rates import Rate, RateSource, rate_formatted
from cauri.domain.refunds import RefundStatus, refundable_left
from cauri.domain.webhooks import WEBHOOK_EVENTS

#: A moment as Moneroo writes it: ``2024-01-31T14:46:13.000000Z``.
Stamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2024-01-31T14:46:13.000000Z"])]
EventType = Annotated[str, Field(json_schema_extra={"enum": list(WEBHOOK_EVENTS)})]
DeliveryStatus = Literal["pending", "delivered", "failed"]

#: Field docstrings become the schema's descriptions.
_DOCUMENTED = ConfigDict(use_attribute_docstrings=True)


@with_config(_DOCUMENTED)
class Currency(TypedDict):
    code: str
    name: str
    symbol: str
    symbol_first: bool
    decimals: int
    decimal_mark: str
    thousands_separator: str
    subunit: str | None
    subunit_to_unit: int
    symbol_native: str
    decimal_digits: int
    rounding: int
    name_plural: str
    icon_url: str | None


@with_config(_DOCUMENTED)
class App(TypedDict):
    id: str
    name: str
    website_url: str | None
    icon_url: str | None
    created_at: Stamp
    updated_at: Stamp
    is_enabled: bool


@with_config(_DOCUMENTED)
class Customer(TypedDict):
    id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    address: str | None
    city: str | None
    state: str | None
    country_code: str | None
    """ISO 3166-1 alpha-2."""
    country: str | None
    zip_code: str | None
    created_at: Stamp
    updated_at: Stamp


@with_config(_DOCUMENTED)
class CaptureMethod(TypedDict):
    id: str
    name: str
    short_code: str
    icon_url: str | None


@with_config(_DOCUMENTED)
class CaptureGateway(TypedDict):
    """The connector that carried the attempt, and the provider's view of it."""

    id: str
    """``sandbox``, or the id of the merchant's provider account that served the attempt."""
    name: str
    """The provider's name (``Cauri Sandbox``, ``pawaPay``, ``Paystack``…)."""
    short_code: str
    """The provider's code (``sandbox``, ``pawapay``, ``paystack``…)."""
    account_name: str | None
    """The label of the merchant's account at the provider."""
    transaction_id: str | None
    """The provider's reference, once it has one."""
    transaction_status: AttemptStatus
    transaction_failure_message: str | None


@with_config(_DOCUMENTED)
class CaptureContext(TypedDict):
    ip: str | None
    user_agent: str | None
    local: str | None
    """The checkout page's language (Moneroo's spelling)."""
    action: str | None
    """What the customer was asked to do (confirm on the phone, authenticate the card…)."""


@with_config(_DOCUMENTED)
class CaptureMetadata(TypedDict):
    """What a payment priced in another currency than its method's debited the customer."""

    amount_debited: int
    """In ``currency_debited``, main unit: the payment's amount at ``rate`` raised by ``correction_rate``, rounded
    half up to a whole unit."""
    amount_debited_formatted: Annotated[str, Field(examples=["NGN 155,025"])]
    currency_debited: Annotated[str, Field(examples=["NGN"])]
    """The method's currency."""


@with_config(_DOCUMENTED)
class Capture(TypedDict):
    """The attempt that paid, or else the latest one. ``rate``, ``rate_formatted``, ``correction_rate`` and
    ``metadata`` are present only when the method's currency differs from the payment's."""

    identifier: str
    phone_number: str | None
    failure_message: str | None
    failure_error_code: str | None
    failure_error_type: str | None
    amount: int
    amount_formatted: str
    currency: Currency
    method: CaptureMethod
    gateway: CaptureGateway
    context: CaptureContext
    created_at: Stamp
    completed_at: Stamp | None
    rate: NotRequired[Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", examples=["1550.25"])]]
    """Units of the method's currency per unit of the payment's, locked when the attempt started, as exact decimal
    text (our choice: never a float)."""
    rate_formatted: NotRequired[Annotated[str, Field(examples=["1 USD = 1,550.25 NGN"])]]
    correction_rate: NotRequired[Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", examples=["0.025"])]]
    """The app's correction margin, a fraction: the customer pays ``rate × (1 + correction_rate)``."""
    metadata: NotRequired[CaptureMetadata]


@with_config(_DOCUMENTED)
class Refund(TypedDict):
    """A refund of the payment (our extension): part or all of the amount paid, sent back to the payer."""

    id: Annotated[str, Field(examples=["rf_0m8xq2v7c1kd4s9a"])]
    amount: int
    """In the payment's currency, main unit."""
    status: RefundStatus
    """``initiated`` (recorded), ``pending`` (with the provider), then ``success`` or ``failed``; a failed
    refund's amount can be refunded again."""
    reason: str | None
    failure_message: str | None
    created_at: Stamp
    updated_at: Stamp


@with_config(_DOCUMENTED)
class Payment(TypedDict):
    """The payment object, as Moneroo's verify endpoint returns it (webhooks carry it too)."""

    id: Annotated[str, Field(examples=["py_k4su1ii7abdzq2xw"])]
    status: PaymentStatus
    is_processed: bool
    processed_at: Stamp | None
    amount: int
    """In the currency's main unit (200 = 200 XOF)."""
    amount_formatted: Annotated[str, Field(examples=["XOF 200"])]
    currency: Currency
    description: str
    return_url: str
    environment: Environment
    initiated_at: Stamp
    metadata: dict[str, str]
    app: App
    customer: Customer
    capture: Capture | None
    """The attempt that paid (or the latest); null until the customer makes one."""
    checkout_url: str
    payment_phone_number: str | None
    amount_refunded: int
    """What successful refunds gave back (our extension)."""
    amount_refundable: int
    """What can still be refunded: the amount paid less every refund not failed; 0 unless paid."""
    refunds: list[Refund]
    """The payment's refunds, oldest first (our extension)."""
    created_at: Stamp
    updated_at: Stamp


@with_config(_DOCUMENTED)
class Initialized(TypedDict):
    id: str
    checkout_url: Annotated[str, Field(json_schema_extra={"format": "uri"})]
    """Redirect the customer there."""


@with_config(_DOCUMENTED)
class ListMeta(TypedDict):
    limit: int
    has_more: bool
    next_cursor: str | None
    """Pass it as ``cursor`` for the next page."""


@with_config(_DOCUMENTED)
class WebhookBody(TypedDict):
    """What a merchant's webhook endpoint receives."""

    event: EventType
    data: Payment
    """The payment as it is right after the change."""


@with_config(_DOCUMENTED)
class WebhookEndpoint(TypedDict):
    id: str
    url: str
    events: list[str] | None
    """The events sent there; null: all."""
    environment: Environment
    is_enabled: bool
    created_at: Stamp
    secret: NotRequired[str]
    """The signing secret, only in the answer to the creation."""


@with_config(_DOCUMENTED)
class EventDelivery(TypedDict):
    id: str
    endpoint_id: str
    status: DeliveryStatus
    attempts: int


@with_config(_DOCUMENTED)
class Event(TypedDict):
    id: str
    type: EventType
    payment_id: str | None
    payout_id: str | None
    """Set for payout events (``payment_id`` is then null)."""
    created_at: Stamp
    deliveries: list[EventDelivery]


@with_config(_DOCUMENTED)
class Resent(TypedDict):
    id: str
    deliveries: int
    """How many deliveries are due now."""


@with_config(_DOCUMENTED)
class DeliveryTry(TypedDict):
    attempted_at: Stamp
    status_code: int | None
    """The endpoint's answer; null when none came (timeout, refused connection)."""
    latency_ms: int
    response_excerpt: str | None
    error: str | None


@with_config(_DOCUMENTED)
class Delivery(TypedDict):
    id: str
    event_id: str
    endpoint_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Stamp
    delivered_at: Stamp | None
    tries: list[DeliveryTry]


@with_config(_DOCUMENTED)
class Country(TypedDict):
    name: str
    code: str
    alpha_3_code: str
    dial_code: str
    currency: str
    currency_symbol: str | None
    flag: str


@with_config(_DOCUMENTED)
class MethodCurrency(TypedDict):
    name: str
    symbol: str
    code: str
    icon_url: str | None


@with_config(_DOCUMENTED)
class PayoutField(TypedDict):
    label: str
    type: str
    name: str
    length: int


@with_config(_DOCUMENTED)
class PaymentMethod(TypedDict):
    name: str
    short_code: str
    description: str
    icon_url: str | None
    is_enabled: bool
    kind: methods.MethodKind
    currency: MethodCurrency
    countries: list[Country]
    fields: list[Any]
    min_amount: int
    max_amount: int


@with_config(_DOCUMENTED)
class PayoutMethod(TypedDict):
    name: str
    short_code: str
    description: str
    icon_url: str | None
    is_enabled: bool
    kind: methods.MethodKind
    currency: MethodCurrency
    countries: list[Country]
    fields: list[PayoutField]


class AppLike(Hashable, Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def website_url(self) -> str | None: ...
    @property
    def icon_url(self) -> str | None: ...
    @property
    def is_enabled(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


#: Formats a stored datetime as Moneroo does (the store knows how its database hands datetimes back).
Formatter = Callable[[datetime | None], str | None]


@lru_cache(maxsize=256)
def currency_object(currency: methods.Currency) -> Currency:
    """Cached like ``app_object``: catalogue currencies are immutable, and every payment object embeds one."""
    return {
        "code": currency.code,
        "name": currency.name,
        "symbol": currency.symbol,
        "symbol_first": currency.symbol_first,
        "decimals": currency.decimals,
        "decimal_mark": currency.decimal_mark,
        "thousands_separator": currency.thousands_separator,
        "subunit": currency.subunit,
        "subunit_to_unit": currency.subunit_to_unit,
        "symbol_native": currency.symbol_native,
        "decimal_digits": currency.decimals,
        "rounding": 0,
        "name_plural": currency.name_plural,
        "icon_url": None,
    }


def _stamp(iso: Formatter, moment: datetime) -> str:
    text = iso(moment)
    assert text is not None  # a required moment
    return text


@lru_cache(maxsize=1024)
def app_object(app: AppLike, iso: Formatter) -> App:
    """The app as payments show it. Cached: apps are immutable values, and every answer embeds one."""
    return {
        "id": app.id,
        "name": app.name,
        "website_url": app.website_url,
        "icon_url": app.icon_url,
        "created_at": _stamp(iso, app.created_at),
        "updated_at": _stamp(iso, app.updated_at),
        "is_enabled": app.is_enabled,
    }


def capture_object(attempt: Mapping[Any, Any], payment: Mapping[Any, Any], iso: Formatter) -> Capture:
    """The attempt that paid, or the latest one, as Moneroo's ``capture``."""
    currency = CATALOGUE.currency(payment["currency"])
    method = CATALOGUE.resolve_payment_method(attempt["method"])
    assert currency is not None
    action = attempt["next_action"] or {}
    gateway_name, short_code, account_name = _gateway(attempt)
    capture: Capture = {
        "identifier": attempt["id"],
        "phone_number": attempt["phone"],
        "failure_message": attempt["failure_message"],
        "failure_error_code": attempt["failure_code"],
        "failure_error_type": "payment_failed" if attempt["failure_code"] else None,
        "amount": payment["amount"],
        "amount_formatted": format_amount(payment["amount"], currency),
        "currency": currency_object(currency),
        "method": {
            "id": attempt["method"],
            "name": method.name if method else attempt["method"],
            "short_code": attempt["method"],
            "icon_url": None,
        },
        "gateway": {
            "id": attempt["connector"],
            "name": gateway_name,
            "short_code": short_code,
            "account_name": account_name,
            "transaction_id": attempt["provider_reference"],
            "transaction_status": attempt["status"],
            "transaction_failure_message": attempt["failure_message"],
        },
        "context": {
            "ip": attempt["client_ip"],
            "user_agent": attempt["user_agent"],
            "local": attempt["locale"],
            "action": action.get("kind"),
        },
        "created_at": _stamp(iso, attempt["created_at"]),
        "completed_at": iso(attempt["completed_at"]),
    }
    if attempt.get("rate") is not None:
        _add_conversion(capture, attempt, payment["currency"])
    return capture


def _add_conversion(capture: Capture, attempt: Mapping[Any, Any], currency: str) -> None:
    """The traces of a payment paid in its method's currency: the rate locked, the margin, what was debited."""
    debited = CATALOGUE.currency(attempt["currency_debited"])
    assert debited is not None  # a catalogue method's currency
    rate = Decimal(attempt["rate"])
    capture["rate"] = attempt["rate"]
    capture["rate_formatted"] = rate_formatted(Rate(currency, debited.code, rate, RateSource.OPERATOR, None))
    capture["correction_rate"] = attempt["correction_rate"]
    capture["metadata"] = {
        "amount_debited": attempt["amount_debited"],
        "amount_debited_formatted": format_amount(attempt["amount_debited"], debited),
        "currency_debited": debited.code,
    }


def _gateway(attempt: Mapping[Any, Any]) -> tuple[str, str, str | None]:
    """Who carried the attempt: the sandbox, or the provider account routing gave it to (its provider's name,
    code, and the account's label, as the attempt's routing record has them)."""
    connector = attempt["connector"]
    if connector == "sandbox":
        return "Cauri Sandbox", "sandbox", None
    steps = attempt.get("routing") or ()
    step = next((s for s in reversed(steps) if isinstance(s, dict) and s.get("account") == connector), None)
    if step is None or not step.get("provider"):
        return connector, connector, None
    return provider_name(step["provider"]), step["provider"], step.get("label")


def payment_object(
    payment: Mapping[str, Any],
    app: App,
    *,
    checkout_url: str,
    iso: Formatter,
    capture: Capture | None = None,
    refunds: Sequence[Mapping[Any, Any]] = (),
) -> Payment:
    """Build the verify object from a stored payment row (or the row about to be stored) and its app's
    object."""
    currency = CATALOGUE.currency(payment["currency"])
    assert currency is not None  # validated at initialize against the same catalogue
    customer = payment["customer"]
    created = _stamp(iso, payment["created_at"])
    updated = _stamp(iso, payment["updated_at"])
    return {
        "id": payment["id"],
        "status": payment["status"],
        "is_processed": payment["is_processed"],
        "processed_at": iso(payment["processed_at"]),
        "amount": payment["amount"],
        "amount_formatted": format_amount(payment["amount"], currency),
        "currency": currency_object(currency),
        "description": payment["description"],
        "return_url": payment["return_url"],
        "environment": payment["environment"],
        "initiated_at": _stamp(iso, payment["initiated_at"]),
        "metadata": payment["metadata"],
        "app": app,
        "customer": {
            "id": customer["id"],
            "first_name": customer["first_name"],
            "last_name": customer["last_name"],
            "email": customer["email"],
            "phone": customer["phone"],
            "address": customer["address"],
            "city": customer["city"],
            "state": customer["state"],
            "country_code": customer["country_code"],
            "country": country_name(customer["country_code"]),
            "zip_code": customer["zip_code"],
            "created_at": created,
            "updated_at": updated,
        },
        "capture": capture,
        "checkout_url": checkout_url,
        "payment_phone_number": capture["phone_number"] if capture else None,
        "amount_refunded": sum(r["amount"] for r in refunds if r["status"] == RefundStatus.SUCCESS.value),
        "amount_refundable": refundable_left(payment["amount"], refunds)
        if payment["status"] == PaymentStatus.SUCCESS.value
        else 0,
        "refunds": [refund_object(r, iso) for r in refunds],
        "created_at": created,
        "updated_at": updated,
    }


def refund_object(refund: Mapping[Any, Any], iso: Formatter) -> Refund:
    return {
        "id": refund["id"],
        "amount": refund["amount"],
        "status": refund["status"],
        "reason": refund["reason"],
        "failure_message": refund["failure_message"],
        "created_at": _stamp(iso, refund["created_at"]),
        "updated_at": _stamp(iso, refund["updated_at"]),
    }


def endpoint_object(endpoint: Mapping[Any, Any], iso: Formatter, secret: str | None = None) -> WebhookEndpoint:
    """A webhook endpoint; its signing secret only in the answer to its creation."""
    data = WebhookEndpoint(
        id=endpoint["id"],
        url=endpoint["url"],
        events=None if endpoint["event_types"] == "*" else endpoint["event_types"].split(","),
        environment=endpoint["environment"],
        is_enabled=endpoint["is_enabled"],
        created_at=_stamp(iso, endpoint["created_at"]),
    )
    if secret is not None:
        data["secret"] = secret
    return data


def event_object(event: Mapping[Any, Any], deliveries: Sequence[Mapping[Any, Any]], iso: Formatter) -> Event:
    return Event(
        id=event["id"],
        type=event["type"],
        payment_id=event["payment_id"],
        payout_id=event.get("payout_id"),
        created_at=_stamp(iso, event["created_at"]),
        deliveries=[
            EventDelivery(id=d["id"], endpoint_id=d["endpoint_id"], status=d["status"], attempts=d["attempts"])
            for d in deliveries
        ],
    )


def delivery_object(delivery: Mapping[Any, Any], tries: Sequence[Mapping[Any, Any]], iso: Formatter) -> Delivery:
    """A delivery with every try: when, the endpoint's status and latency, the answer's first KB, the error."""
    return Delivery(
        id=delivery["id"],
        event_id=delivery["event_id"],
        endpoint_id=delivery["endpoint_id"],
        status=delivery["status"],
        attempts=delivery["attempts"],
        next_attempt_at=_stamp(iso, delivery["next_attempt_at"]),
        delivered_at=iso(delivery["delivered_at"]),
        tries=[
            DeliveryTry(
                attempted_at=_stamp(iso, t["attempted_at"]),
                status_code=t["status_code"],
                latency_ms=t["latency_ms"],
                response_excerpt=t["response_excerpt"],
                error=t["error"],
            )
            for t in tries
        ],
    )
