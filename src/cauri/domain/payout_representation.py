"""The payout object as Moneroo's clients read it (verify, retrieve, list, webhook bodies), typed once.

Built like the payment object (``cauri.domain.representation``): plain dicts at run time, ``TypedDict`` classes
that the OpenAPI document's schemas are generated from. Where a payment has ``capture``, a payout has
``disburse``: the method, the connector that carries it and the provider's view, the failure if any.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict  # pydantic needs this TypedDict before Python 3.12

from cauri.domain.countries import country_name
from cauri.domain.methods import CATALOGUE, format_amount
from cauri.domain.payments import Environment
from cauri.domain.payouts import PayoutStatus
from cauri.domain.representation import (
    App,
    CaptureMethod,
    Currency,
    Customer,
    Formatter,
    Stamp,
    _stamp,
    currency_object,
)
from cauri.domain.webhooks import PAYOUT_EVENTS

_DOCUMENTED = ConfigDict(use_attribute_docstrings=True)
PayoutEventType = Annotated[str, Field(json_schema_extra={"enum": list(PAYOUT_EVENTS)})]


@with_config(_DOCUMENTED)
class DisburseGateway(TypedDict):
    """The connector that carries the payout, and the provider's view of it."""

    id: str
    name: str
    short_code: str
    account_name: str | None
    transaction_id: str | None
    """The provider's reference, once it has one."""
    transaction_status: PayoutStatus
    transaction_failure_message: str | None


@with_config(_DOCUMENTED)
class Recipient(TypedDict, total=False):
    """What the method pays to: ``msisdn`` for mobile money, ``account_number`` for the test method."""

    msisdn: str
    account_number: str


@with_config(_DOCUMENTED)
class Disburse(TypedDict):
    """How the money goes out (Moneroo's ``disburse``, where a payment has ``capture``)."""

    identifier: str
    amount: int
    amount_formatted: str
    currency: Currency
    method: CaptureMethod
    gateway: DisburseGateway
    recipient: Recipient
    failure_message: str | None
    failure_error_code: str | None
    failure_error_type: Literal["payout_failed"] | None


@with_config(_DOCUMENTED)
class Payout(TypedDict):
    """The payout object, as Moneroo's payout verify endpoint returns it (webhooks carry it too)."""

    id: Annotated[str, Field(examples=["po_k4su1ii7abdzq2xw"])]
    status: PayoutStatus
    amount: int
    """In the currency's main unit (500 = 500 XOF)."""
    amount_formatted: Annotated[str, Field(examples=["XOF 500"])]
    currency: Currency
    description: str
    environment: Environment
    metadata: dict[str, str]
    app: App
    customer: Customer
    disburse: Disburse
    initiated_at: Stamp
    pending_at: Stamp | None
    """When the payout was handed to its provider."""
    success_at: Stamp | None
    failed_at: Stamp | None
    created_at: Stamp
    updated_at: Stamp


@with_config(_DOCUMENTED)
class PayoutInitialized(TypedDict):
    id: str
    """Verify it later (``GET /v1/payouts/{id}/verify``), or wait for its webhook."""


@with_config(_DOCUMENTED)
class PayoutWebhookBody(TypedDict):
    """What a merchant's webhook endpoint receives when a payout changes."""

    event: PayoutEventType
    data: Payout
    """The payout as it is right after the change."""


def payout_object(payout: Mapping[str, Any], app: App, *, iso: Formatter) -> Payout:
    """Build the payout object from a stored payout row and its app's object."""
    currency = CATALOGUE.currency(payout["currency"])
    method = CATALOGUE.payout_methods.get(payout["method"])
    assert currency is not None  # validated at initialize against the same catalogue
    customer = payout["customer"]
    created = _stamp(iso, payout["created_at"])
    updated = _stamp(iso, payout["updated_at"])
    amount_formatted = format_amount(payout["amount"], currency)
    connector = payout["connector"]
    return {
        "id": payout["id"],
        "status": payout["status"],
        "amount": payout["amount"],
        "amount_formatted": amount_formatted,
        "currency": currency_object(currency),
        "description": payout["description"],
        "environment": payout["environment"],
        "metadata": payout["metadata"],
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
        "disburse": {
            "identifier": payout["id"],
            "amount": payout["amount"],
            "amount_formatted": amount_formatted,
            "currency": currency_object(currency),
            "method": {
                "id": payout["method"],
                "name": method.name if method else payout["method"],
                "short_code": payout["method"],
                "icon_url": None,
            },
            "gateway": {
                "id": connector,
                "name": "Cauri Sandbox" if connector == "sandbox" else connector,
                "short_code": connector,
                "account_name": None,
                "transaction_id": payout["provider_reference"],
                "transaction_status": payout["status"],
                "transaction_failure_message": payout["failure_message"],
            },
            "recipient": dict(payout["recipient"]),  # type: ignore[typeddict-item]
            "failure_message": payout["failure_message"],
            "failure_error_code": payout["failure_code"],
            "failure_error_type": "payout_failed" if payout["status"] == PayoutStatus.FAILED else None,
        },
        "initiated_at": _stamp(iso, payout["initiated_at"]),
        "pending_at": iso(payout["pending_at"]),
        "success_at": iso(payout["success_at"]),
        "failed_at": iso(payout["failed_at"]),
        "created_at": created,
        "updated_at": updated,
    }
